// Fixture of layer_check_test: model including train, a higher layer (refused).
#include "lmforge/model/config.h"
#include "lmforge/train/trainer.h"
