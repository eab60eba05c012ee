// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * podsrv: the servers of one test pod.
 *
 *   podsrv --name NAME [--tcp PORT] [--udp PORT] [--echo PORT]
 *
 * TCP: a minimal HTTP/1.x server; every request gets "200 OK" with the body
 * "NAME\n" and a header "X-Client: ADDR:PORT" naming the peer as this pod
 * saw it (source NAT shows there), and the connection is closed. UDP: every datagram is answered with
 * "NAME\n" from the bound socket, so the reply's source is the bound port.
 * --echo: a TCP line service on a kept-open connection: every line received
 * ("\n"-terminated) is answered with "NAME\n"; the connection stays open until
 * the client closes it (idle ones are dropped after ECHO_IDLE_S).
 * All bind 0.0.0.0. Prints one "ready" line once bound, nothing else on
 * stdout, and runs until SIGTERM/SIGINT.
 *
 * One thread, one poll() loop: many sequential clients and a handful of
 * concurrent ones; a client that resets or stalls only loses its own slot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS  64
#define REQ_MAX    4096
#define CONN_TTL_S 5 /* a client that sends no full request in time is dropped */
#define ECHO_IDLE_S 60 /* an --echo connection with no line for this long is dropped */

struct conn {
	int fd;                 /* -1 = free slot */
	bool echo;              /* accepted on the --echo port */
	size_t len;             /* bytes of the request read so far */
	time_t deadline;
	char buf[REQ_MAX];
};

static volatile sig_atomic_t stop;
static const char *name;
static struct conn conns[MAX_CONNS];

static void on_signal(int sig)
{
	stop = 1;
}

static int listen_on(int type, int port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int one = 1;
	int fd;

	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
}

static void conn_accept(int lfd, bool echo)
{
	int i, fd;

	/* Accept all that are queued; when the table is full, new clients wait in the backlog. */
	for (;;) {
		for (i = 0; i < MAX_CONNS && conns[i].fd >= 0; i++)
			;
		if (i == MAX_CONNS)
			return;
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or the client already went away */
		conns[i].fd = fd;
		conns[i].echo = echo;
		conns[i].len = 0;
		conns[i].deadline = time(NULL) + (echo ? ECHO_IDLE_S : CONN_TTL_S);
	}
}

static void conn_reply(struct conn *c)
{
	char resp[512], peer[INET_ADDRSTRLEN] = "?";
	struct sockaddr_in sa = { 0 };
	socklen_t sl = sizeof(sa);
	int body_len = (int)strlen(name) + 1;
	int n;

	if (!getpeername(c->fd, (struct sockaddr *)&sa, &sl))
		inet_ntop(AF_INET, &sa.sin_addr, peer, sizeof(peer));
	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 200 OK\r\n"
		     "Content-Type: text/plain\r\n"
		     "Content-Length: %d\r\n"
		     "X-Client: %s:%u\r\n"
		     "Connection: close\r\n"
		     "\r\n"
		     "%s\n",
		     body_len, peer, ntohs(sa.sin_port), name);
	/* The reply fits in an empty socket buffer; a client that reset gets nothing. */
	if (send(c->fd, resp, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EPIPE &&
	    errno != ECONNRESET)
		fprintf(stderr, "podsrv: send: %s\n", strerror(errno));
	shutdown(c->fd, SHUT_WR);
	conn_close(c);
}

/* --echo: answer each complete line with "NAME\n", keep what follows. */
static void conn_echo(struct conn *c)
{
	char resp[128];
	char *nl;
	int n = snprintf(resp, sizeof(resp), "%s\n", name);

	while ((nl = memchr(c->buf, '\n', c->len))) {
		size_t used = (size_t)(nl - c->buf) + 1;

		if (send(c->fd, resp, n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
			conn_close(c); /* reset, or a client that does not read */
			return;
		}
		memmove(c->buf, nl + 1, c->len - used);
		c->len -= used;
	}
	if (c->len == sizeof(c->buf) - 1)
		conn_close(c); /* a line longer than the buffer */
	else
		c->deadline = time(NULL) + ECHO_IDLE_S;
}

static void conn_read(struct conn *c)
{
	ssize_t n;

	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Reset or closed before a full request: nothing to answer. */
		conn_close(c);
		return;
	}
	c->len += n;
	c->buf[c->len] = '\0';
	if (c->echo) {
		conn_echo(c);
		return;
	}
	/* End of the request head; a full buffer is answered too. */
	if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n") || c->len == sizeof(c->buf) - 1)
		conn_reply(c);
}

static void udp_serve(int fd)
{
	char buf[2048];
	struct sockaddr_storage peer;
	socklen_t plen;
	int i;

	/* Bounded per wakeup so TCP clients are not starved. */
	for (i = 0; i < 64; i++) {
		plen = sizeof(peer);
		if (recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&peer, &plen) < 0)
			return;
		snprintf(buf, sizeof(buf), "%s\n", name);
		sendto(fd, buf, strlen(buf), MSG_DONTWAIT, (struct sockaddr *)&peer, plen);
	}
}

static int parse_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return (*s && !*end && v > 0 && v < 65536) ? (int)v : -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: podsrv --name NAME [--tcp PORT] [--udp PORT] [--echo PORT]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "tcp", required_argument, NULL, 't' },
		{ "udp", required_argument, NULL, 'u' },
		{ "echo", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct pollfd pfds[3 + MAX_CONNS];
	struct sigaction sa = { .sa_handler = on_signal };
	int tcp_port = 0, udp_port = 0, echo_port = 0, lfd = -1, ufd = -1, efd = -1;
	int opt, i;

	while ((opt = getopt_long(argc, argv, "n:t:u:e:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			name = optarg;
			break;
		case 't':
			tcp_port = parse_port(optarg);
			break;
		case 'u':
			udp_port = parse_port(optarg);
			break;
		case 'e':
			echo_port = parse_port(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!name || optind != argc || tcp_port < 0 || udp_port < 0 || echo_port < 0 ||
	    (!tcp_port && !udp_port && !echo_port)) {
		usage(stderr);
		return 2;
	}

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;

	if (tcp_port && (lfd = listen_on(SOCK_STREAM, tcp_port)) < 0) {
		fprintf(stderr, "podsrv: TCP port %d: %s\n", tcp_port, strerror(-lfd));
		return 1;
	}
	if (udp_port && (ufd = listen_on(SOCK_DGRAM, udp_port)) < 0) {
		fprintf(stderr, "podsrv: UDP port %d: %s\n", udp_port, strerror(-ufd));
		return 1;
	}
	if (echo_port && (efd = listen_on(SOCK_STREAM, echo_port)) < 0) {
		fprintf(stderr, "podsrv: TCP port %d: %s\n", echo_port, strerror(-efd));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	while (!stop) {
		time_t now = time(NULL);
		int n = 0, map[MAX_CONNS];

		pfds[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		pfds[n++] = (struct pollfd){ .fd = ufd, .events = POLLIN };
		pfds[n++] = (struct pollfd){ .fd = efd, .events = POLLIN };
		for (i = 0; i < MAX_CONNS; i++) {
			if (conns[i].fd < 0)
				continue;
			if (now >= conns[i].deadline) {
				conn_close(&conns[i]);
				continue;
			}
			map[n - 3] = i;
			pfds[n++] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		}
		/* poll() ignores negative fds; wake up each second to expire stalled clients. */
		if (poll(pfds, n, 1000) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "podsrv: poll: %s\n", strerror(errno));
			return 1;
		}
		for (i = 3; i < n; i++)
			if (pfds[i].revents)
				conn_read(&conns[map[i - 3]]);
		if (pfds[0].revents & POLLIN)
			conn_accept(lfd, false);
		if (pfds[1].revents & POLLIN)
			udp_serve(ufd);
		if (pfds[2].revents & POLLIN)
			conn_accept(efd, true);
	}
	return 0;
}
