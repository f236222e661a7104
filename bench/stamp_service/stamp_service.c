/* The managed service of bench_restart_latency: on start it appends
 * "<pid> <CLOCK_REALTIME ns>\n" to STAMPFILE, then sleeps until killed.
 * Plain C, linked statically, so its own start-up (exec, no dynamic
 * loading) adds as little as possible to what is measured: the time from
 * SIGKILL to the supervisor's new process running its first instruction.
 *
 * usage: bench_stamp_service --service STAMPFILE */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (argc != 3 || strcmp(argv[1], "--service") != 0)
    return 2;
  int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return 3;
  char line[64];
  int n = snprintf(line, sizeof(line), "%d %lld\n", (int) getpid(),
                   (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec);
  if (n <= 0 || write(fd, line, (size_t) n) != n)
    return 4;
  close(fd);
  for (;;)
    pause();
}
