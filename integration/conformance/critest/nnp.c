/* Stand-in for e2e-test-images/nonewprivs: installed setuid root, it prints
 * the effective uid, which stays the caller's under no_new_privs. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("Effective uid: %u\n", (unsigned)geteuid());
	return 0;
}
