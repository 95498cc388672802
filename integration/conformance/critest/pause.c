/* Stand-in for registry.k8s.io/pause in the offline critest run: hold the
 * pod's namespaces, reap children, exit 0 on SIGTERM or SIGINT. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); }

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, 0, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction term = {.sa_handler = on_term}, child = {.sa_handler = on_child};
	sigaction(SIGTERM, &term, 0);
	sigaction(SIGINT, &term, 0);
	sigaction(SIGCHLD, &child, 0);
	for (;;)
		pause();
}
