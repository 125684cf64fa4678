/* dlopen_check MODULE...: loads each with RTLD_NOW, prints whether the process runs in
 * secure mode (AT_SECURE: setuid) and exits non-zero when one does not load. Made setuid
 * root by test_shared_lib.sh, it shows that the module's RUNPATH leads the dynamic linker
 * to libapppass-shared.so in a setuid host too (su and sudo load PAM modules). */
#include <dlfcn.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int failed = 0;
  printf("uid=%d euid=%d secure=%lu\n", (int)getuid(), (int)geteuid(), getauxval(AT_SECURE));
  for (int i = 1; i < argc; ++i) {
    void* h = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
    printf("%s: %s\n", argv[i], h != NULL ? "loaded" : dlerror());
    if (h == NULL) failed = 1;
  }
  return failed;
}
