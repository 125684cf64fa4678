/* pam_rcspy.so: a test-only PAM module that runs another module's pam_sm_authenticate
 * inside the real libpam dispatch and reports what it returned, so that a test can see the
 * module's own return code even in a stack whose overall result hides it
 * ("auth sufficient ... + auth required pam_permit.so" passes whatever the module says).
 *
 *   auth sufficient pam_rcspy.so MODULE_PATH [MODULE ARGS...]
 *   auth sufficient pam_rcspy.so =ignore      (returns PAM_IGNORE itself)
 *
 * Puts APPPASS_SPY_RC=<code> into the PAM environment (pam_getenv) and returns the
 * module's code unchanged. Never installed, never used outside tests/faults. */
#include <dlfcn.h>
#include <security/pam_appl.h>
#include <security/pam_modules.h>
#include <stdio.h>
#include <string.h>

typedef int (*AuthFn)(pam_handle_t*, int, int, const char**);

__attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t* pamh, int flags,
                                                               int argc, const char** argv) {
  char env[64];
  if (argc < 1) return PAM_SERVICE_ERR;
  /* "=ignore": stand in for a module that answers PAM_IGNORE (the stacks' self-test). */
  if (strcmp(argv[0], "=ignore") == 0) {
    pam_putenv(pamh, "APPPASS_SPY_RC=25");
    return PAM_IGNORE;
  }
  void* h = dlopen(argv[0], RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) return PAM_SERVICE_ERR;
  AuthFn fn;
  /* POSIX: dlsym's result converts to a function pointer; memcpy keeps -Wpedantic quiet. */
  void* sym = dlsym(h, "pam_sm_authenticate");
  memcpy(&fn, &sym, sizeof fn);
  int rc = fn != NULL ? fn(pamh, flags, argc - 1, argv + 1) : PAM_SERVICE_ERR;
  snprintf(env, sizeof env, "APPPASS_SPY_RC=%d", rc);
  pam_putenv(pamh, env);
  /* Never dlclose: the module's pam_set_data cleanup runs at pam_end. */
  return rc;
}

__attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t* pamh, int flags, int argc,
                                                          const char** argv) {
  (void)pamh;
  (void)flags;
  (void)argc;
  (void)argv;
  return PAM_SUCCESS;
}
