// placeholder: replaced by the http_cache implementation
#include "remote/cache.hpp"
