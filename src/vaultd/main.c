/*
 * vaultd: options, boot (docs/vaultd.8).
 *
 * Boot: config -> token login (keeper) -> audit log -> metrics -> first
 * configuration generation (policy, bundle) -> listeners -> ready. Then
 * the main thread only waits for signals: SIGHUP reloads, SIGTERM/SIGINT
 * drain and stop. The signals are blocked before any thread exists, so
 * every thread inherits the mask and only sigwait() in the main thread
 * sees them (signals.c). --dev makes its configuration in dev.c.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "audit/audit.h"
#include "base/secmem.h"
#include "core/keys.h"
#include "vaultd/keeper.h"
#include "vaultd/keeper_int.h"
#include "vaultd/keywatch.h"
#include "vaultd/main_int.h"
#include "vaultd/metrics.h"
#include "vaultd/server.h"
#include "vaultd/vaultd.h"

void
say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vaultd: %s\n", line);
}

static void
say_warning(const char *msg)
{
	say("warning: %s", msg);
}

void
say_err(const char *what, pv_err e)
{
	const char *d = pv_err_detail();

	if (d[0] != '\0')
		say("%s: %s", what, d);
	else
		say("%s: %s", what, pv_strerror(e));
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: vaultd --config FILE\n"
		   "       vaultd --check-config --config FILE\n"
		   "       vaultd --dev [--dev-dir DIR] [--config FILE]\n"
		   "\n"
		   "  --config FILE    vaultd.json (docs/config.md)\n"
		   "  --check-config   validate FILE and exit (0 valid, 2 invalid)\n"
		   "  --dev            development mode: no config file needed, one admin\n"
		   "                   client with a generated token printed once; a bundle\n"
		   "                   that cannot be opened only warns\n"
		   "  --dev-dir DIR    socket and audit log directory for --dev\n"
		   "                   (default $P11VAULT_DEV_DIR, else ./vaultd-dev)\n"
		   "  --wait-for-token SECONDS\n"
		   "                   at start-up, wait up to SECONDS for the token\n"
		   "                   instead of exiting 3 at once\n"
		   "  --help, --version\n"
		   "\n"
		   "Signals: SIGHUP reloads config and bundle; SIGTERM/SIGINT drain and stop.\n");
}

struct opts {
	const char *config;
	const char *dev_dir;
	int check;
	int dev;
	unsigned wait_token_s;
};

/* 0: run; 1: exit 0 (help, version); 2: usage error. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"dev", no_argument, NULL, 'd'},
	    {"dev-dir", required_argument, NULL, 'D'},
	    {"wait-for-token", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char *end = NULL;
	unsigned long n;
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'k':
			o->check = 1;
			break;
		case 'd':
			o->dev = 1;
			break;
		case 'D':
			o->dev_dir = optarg;
			break;
		case 'w':
			n = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || n > 86400) {
				say("--wait-for-token needs whole seconds, 0 to 86400");
				return 2;
			}
			o->wait_token_s = (unsigned)n;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("vaultd %s\n", PACKAGE_VERSION);
			return 1;
		default:
			say("unknown or incomplete option (try --help)");
			return 2;
		}
	}
	if (optind != argc) {
		say("unexpected argument (try --help)");
		return 2;
	}
	if (o->config == NULL && !o->dev) {
		say("--config FILE is required (or --dev)");
		return 2;
	}
	if (o->check && o->config == NULL) {
		say("--check-config needs --config FILE");
		return 2;
	}
	if (o->dev_dir != NULL && !o->dev) {
		say("--dev-dir goes with --dev");
		return 2;
	}
	return 0;
}

static void
say_line(const char *msg)
{
	say("%s", msg);
}

static int
token_absent(pv_err e)
{
	return e == PV_ERR_TOKEN_NOT_FOUND || e == PV_ERR_TOKEN_UNAVAILABLE || e == PV_ERR_SESSION ||
	       e == PV_ERR_PKCS11;
}

/*
 * Open the token; with --wait-for-token keep trying (backoff up to 1 s)
 * until it is there, the time is up, or SIGTERM/SIGINT (*stopped = 1).
 */
static pv_err
open_keeper(const struct pv_config *cfg, unsigned wait_s, const sigset_t *set, int *stopped,
	    struct vd_keeper **out)
{
	struct timespec t0, now, pause;
	long delay_ms = 50, waited_ms;
	int announced = 0, sig;
	pv_err e;

	*stopped = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pv_err_clear_detail();
		e = vd_keeper_open(cfg, out);
		if (e == PV_OK || !token_absent(e))
			return e;
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L;
		if (waited_ms >= (long)wait_s * 1000L)
			return e;
		if (!announced) {
			say_err("the token is not available yet; waiting (--wait-for-token)", e);
			announced = 1;
		}
		pause.tv_sec = delay_ms / 1000;
		pause.tv_nsec = (delay_ms % 1000) * 1000000L;
		sig = sigtimedwait(set, NULL, &pause);
		if (sig == SIGTERM || sig == SIGINT) {
			*stopped = 1;
			return e;
		}
		if (delay_ms < 1000)
			delay_ms *= 2;
	}
}

static pv_err
open_audit(struct vd_daemon *d, const struct pv_config *cfg)
{
	struct pv_audit_opts o;
	pv_err r;

	memset(&o, 0, sizeof(o));
	o.path = cfg->audit.file;
	/* the writer gets the checkpoint MAC only, never the keystore */
	if ((r = vd_keeper_audit_mac(d->keeper, cfg->audit.hmac_key, &o.mac)) != PV_OK)
		return r;
	o.hmac_key = cfg->audit.hmac_key;
	o.every = cfg->audit.checkpoint_every;
	o.seconds = cfg->audit.checkpoint_seconds;
	o.fsync = PV_AUDIT_FSYNC_CHECKPOINT;
	o.syslog = cfg->audit.syslog;
	return pv_audit_open(&o, &d->audit);
}

/* One line per warning of a "; "-separated list (config checks, bundle). */
static void
say_warnings(const char *what, const char *list)
{
	const char *p = list, *end;

	for (; p != NULL && *p != '\0'; p = end != NULL ? end + 2 : NULL) {
		end = strstr(p, "; ");
		say("%s%swarning: %.*s", what, what[0] != '\0' ? ": " : "",
		    (int)(end != NULL ? (size_t)(end - p) : strlen(p)), p);
	}
}

/*
 * --check-config: the file on its own (every field, and no rule reaching
 * the audit key), then, when the token its token section names can be
 * opened, the rules against the keys on it (docs/config.md, "What the
 * checks refuse"). Without the token that second part is skipped, and
 * said so.
 */
static int
check_config(const char *path)
{
	struct pv_config *cfg = NULL;
	struct vd_keeper *k = NULL;
	char *warnings = NULL;
	int rc = 2;
	pv_err e;

	pv_err_clear_detail();
	if ((e = pv_config_load(path, &cfg)) != PV_OK) {
		say_err(path, e);
		goto out;
	}
	pv_err_clear_detail();
	if ((e = pv_secmem_init()) != PV_OK || (e = vd_keeper_open(cfg, &k)) != PV_OK) {
		say_err("cannot open the token", e);
		say("%s: valid as far as checked without the token; the rules were NOT checked against the "
		    "keys on the token (their purposes, audit.hmac_key)",
		    path);
		rc = 0;
		goto out;
	}
	pv_err_clear_detail();
	if ((e = vd_config_check_token(k, cfg, 1, 1, &warnings)) != PV_OK) {
		say_err(path, e);
		goto out;
	}
	say_warnings(path, warnings);
	say("%s: valid (also checked against the keys on token \"%s\")", path, vd_keeper_token_label(k));
	rc = 0;
out:
	free(warnings);
	vd_keeper_close(k);
	pv_config_free(cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct vd_daemon d;
	struct vd_server *srv = NULL;
	struct vd_keywatch *watch = NULL;
	struct pv_config *cfg = NULL;
	struct vd_gen *g = NULL;
	pv_secret *admin = NULL;
	char *devdir = NULL, *warning = NULL;
	char hash[64], boot_fixed[2048];
	sigset_t set;
	int rc = PV_EXIT_INTERNAL, stopped = 0;
	pv_err e;

	switch (parse_args(argc, argv, &o)) {
	case 1:
		return 0;
	case 2:
		return PV_EXIT_USAGE;
	default:
		break;
	}
	if (o.check)
		return check_config(o.config);

	vd_signals_block(&set);
	memset(&d, 0, sizeof(d));
	atomic_init(&d.ready, 0);
	atomic_init(&d.inflight, 0);
	pthread_mutex_init(&d.gen_lock, NULL);
	d.config_path = o.config;
	d.dev = o.dev;

	if ((e = pv_secmem_init()) != PV_OK) {
		say_err("cannot protect memory", e);
		goto out;
	}
	if (o.dev)
		say("WARNING: development mode (--dev): never use it in production; a bundle that cannot be "
		    "opened only warns");

	/* 1. configuration */
	pv_err_clear_detail();
	if (o.config != NULL) {
		e = pv_config_load(o.config, &cfg);
		if (e != PV_OK) {
			say_err(o.config, e);
			rc = PV_EXIT_USAGE;
			goto out;
		}
	} else {
		if ((e = vd_dev_dir(o.dev_dir, &devdir)) != PV_OK ||
		    (e = vd_dev_token(&admin, hash)) != PV_OK) {
			say_err("--dev", e);
			rc = pv_err_exit_code(e);
			goto out;
		}
		if ((e = vd_dev_config(devdir, hash, &cfg)) != PV_OK) {
			say_err("--dev configuration", e);
			rc = PV_EXIT_USAGE;
			goto out;
		}
	}
	vd_fixed_settings(cfg, boot_fixed, sizeof(boot_fixed));

	/* 2. token */
	vd_secrets_set_warn(say_warning);
	vd_keeper_set_outage_log(say_line);
	if ((e = open_keeper(cfg, o.wait_token_s, &set, &stopped, &d.keeper)) != PV_OK) {
		if (stopped) {
			say("stopped while waiting for the token");
			rc = PV_EXIT_OK;
		} else if (token_absent(e)) {
			say_err(
			    "the token is not available (start vaultd when it is, or use --wait-for-token "
			    "SECONDS)",
			    e);
			rc = PV_EXIT_TOKEN;
		} else {
			say_err("token login failed", e);
			rc = pv_err_exit_code(e);
		}
		goto out;
	}
	say("logged in to token \"%s\"", vd_keeper_token_label(d.keeper));
	/* a long-running signer: session copies of its keys (docs/config.md) */
	pv_keystore_set_session_copies(vd_keeper_ks(d.keeper), cfg->token.session_key_copies);
	if (admin != NULL && (e = vd_dev_audit_key(d.keeper)) != PV_OK) {
		say_err("dev: audit checkpoint key " DEV_AUDIT_KEY, e);
		rc = pv_err_exit_code(e);
		goto out;
	}

	/* 3. audit log, metrics */
	pv_err_clear_detail();
	if ((e = open_audit(&d, cfg)) != PV_OK) {
		say_err("audit log", e);
		rc = e == PV_ERR_USAGE ? PV_EXIT_USAGE : pv_err_exit_code(e);
		goto out;
	}
	if ((e = vd_metrics_new(&d.metrics)) != PV_OK) {
		say_err("metrics", e);
		goto out;
	}

	/* 4. the first generation: policy, bundle and environment secrets */
	pv_err_clear_detail();
	e = vd_gen_build(&d, cfg, &g, &warning);
	cfg = NULL; /* the generation owns it, also on failure */
	if (warning != NULL) {
		say_warnings("", warning);
		free(warning);
		warning = NULL;
	}
	if (e != PV_OK) {
		say_err("cannot load the configuration's bundle and policy", e);
		rc = pv_err_exit_code(e);
		goto out;
	}
	vd_gen_publish(&d, g); /* the daemon now holds g's reference */
	g = NULL;

	/* 5. listeners */
	if (admin != NULL) {
		/* Printed once, here, before anyone can connect. */
		printf("vaultd: dev admin token: %.*s\n", (int)pv_secret_len(admin),
		       (const char *)pv_secret_ro(admin));
		fflush(stdout);
		pv_secret_free(admin);
		admin = NULL;
	}
	pv_err_clear_detail();
	/* No request runs yet, so nothing can replace d.gen meanwhile. */
	if ((e = vd_server_start(&d, d.gen->cfg, &srv)) != PV_OK) {
		say_err("cannot listen", e);
		rc = pv_err_exit_code(e);
		goto out;
	}
	/* From here on POST /v1/admin/reload may swap d.gen: take a reference. */
	g = vd_gen_acquire(&d);
	if (g->cfg->listen.has_unix)
		say("listening on %s", g->cfg->listen.unix_path);
	if (g->cfg->listen.has_tcp)
		say("listening on %s (TLS%s)", g->cfg->listen.tcp_address,
		    g->cfg->listen.client_ca ? ", client certificates verified" : "");
	/* audit records for key service changes; scheduled deletions */
	if ((e = vd_keywatch_start(&d, vd_keeper_meta_ttl(d.keeper), say_line, &watch)) != PV_OK) {
		say_err("key watch", e);
		rc = pv_err_exit_code(e);
		goto out;
	}
	atomic_store(&d.ready, 1);
	say("ready (%u workers, body limit %u bytes, request timeout %u ms)", (unsigned)g->cfg->workers,
	    (unsigned)g->cfg->limits.max_body_bytes, (unsigned)g->cfg->limits.request_timeout_ms);
	vd_gen_release(g);
	g = NULL;

	vd_wait_for_stop(&d, &set, boot_fixed);
	if (vd_drain(&d, srv)) {
		/* Their results were never released and their audit lines, if
		 * written, are complete; what was written stays. Exit status 0
		 * as after any SIGTERM (docs/vaultd.8). */
		say("stopped without waiting for them");
		_exit(PV_EXIT_OK);
	}
	srv = NULL;
	rc = PV_EXIT_OK;
out:
	vd_server_stop(srv);
	vd_keywatch_stop(watch);
	/* After a clean stop the exit stays 0 (docs/vaultd.8): a close that
	 * failed (e.g. its checkpoint during a token outage) is logged. */
	if (d.audit != NULL && (e = pv_audit_close(d.audit)) != PV_OK)
		say_err("closing the audit log", e);
	d.audit = NULL;
	/* g is set here only when it was never published. */
	if (g != NULL)
		vd_gen_release(g);
	if (d.gen != NULL) {
		vd_gen_release(d.gen);
		d.gen = NULL;
	}
	vd_metrics_free(d.metrics);
	vd_keeper_close(d.keeper);
	pv_config_free(cfg);
	pv_secret_free(admin);
	free(devdir);
	pthread_mutex_destroy(&d.gen_lock);
	if (rc == PV_EXIT_OK)
		say("stopped");
	return rc;
}
