// placeholder: replaced by the action_result implementation
#include "remote/cache.hpp"
