#include "actors/type_ids.hpp"
