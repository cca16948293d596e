// placeholder: replaced by the sign implementation
#include "remote/cache.hpp"
