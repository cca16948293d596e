// placeholder: replaced by the layer implementation
#include "remote/cache.hpp"
