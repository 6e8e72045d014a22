#include "advrec/alpha.hpp"
