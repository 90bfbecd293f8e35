// Fixture of layer_check_test: a public header of model including backend, which model uses only
// privately (refused: whoever includes this header would need backend too).
#pragma once
#include "lmforge/backend/kernels.h"
