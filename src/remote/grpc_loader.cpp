// placeholder: replaced by the grpc_loader implementation
#include "remote/cache.hpp"
