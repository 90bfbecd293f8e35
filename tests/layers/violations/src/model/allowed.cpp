// Fixture of layer_check_test: model including what it names (core, io, backend, data): accepted.
#include "lmforge/backend/kernels.h"
#include "lmforge/core/error.h"
#include "lmforge/data/tokenizer.h"
#include "lmforge/io/safetensors.h"
#include "lmforge/model/config.h"
#include "model/private_header.h"
