// Fixture of layer_check_test: infer including a private header of serve, a higher layer (refused).
#include "serve/http_server.h"
