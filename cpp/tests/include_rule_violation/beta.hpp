// advrec:model
#pragma once
#include "advrec/alpha.hpp"
