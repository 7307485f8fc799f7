/* Tries syscalls Docker's seccomp profile refuses and prints the errno
 * name each one got (or "ok"). Built static by the tests. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *res(long rc) {
    if (rc >= 0) return "ok";
    switch (errno) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return strerror(errno);
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *t = argv[i];
        long rc = -1;
        if (!strcmp(t, "unshare-user")) rc = unshare(CLONE_NEWUSER);
        else if (!strcmp(t, "unshare-mount")) rc = unshare(CLONE_NEWNS);
        else if (!strcmp(t, "keyctl")) rc = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0);
        else if (!strcmp(t, "add_key")) rc = syscall(SYS_add_key, "user", "k", "v", 1, -3);
        else if (!strcmp(t, "clone3")) rc = syscall(SYS_clone3, NULL, 0);
        else if (!strcmp(t, "vsock")) rc = socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
        else if (!strcmp(t, "alg")) rc = socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0);
        else if (!strcmp(t, "inet")) rc = socket(AF_INET, SOCK_STREAM, 0);
        else if (!strcmp(t, "personality-query")) rc = personality(0xffffffff);
        else if (!strcmp(t, "personality-bad")) rc = personality(0x0040000 /* ADDR_NO_RANDOMIZE */);
        else if (!strcmp(t, "getpid")) rc = getpid();
        else if (!strcmp(t, "sethostname")) rc = sethostname("x", 1);
        printf("%s=%s\n", t, res(rc));
    }
    return 0;
}
