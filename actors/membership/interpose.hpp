#pragma once

// For the functions faultd defines in place of the C libraries' own
// (tls_watch: SSL_accept, SSL_connect; tls_gate: accept, SSL_free): the
// definition the dynamic linker would have bound without ours.

#include <dlfcn.h>

namespace faultd {

template <class Fn>
Fn next_definition(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

} // namespace faultd
