// Build shim, temporary: compiles src/infer/ into lmforge_model until CMakeLists.txt lists
// `infer` among the model layer's DIRS. Delete this file when that line is added (the sources
// would otherwise be compiled twice and clash at link time).
#include "../infer/chat_template.cpp"
#include "../infer/engine.cpp"
#include "../infer/generate.cpp"
#include "../infer/sampler.cpp"
#include "../infer/loaded_model.cpp"
#include "../infer/scheduler.cpp"
#include "../infer/chat_session.cpp"
