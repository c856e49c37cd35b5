/*
 * vaultd: options, boot, signals (docs/vaultd.8).
 *
 * Boot: config -> token login (keeper) -> audit log -> metrics -> first
 * configuration generation (policy, bundle) -> listeners -> ready. Then
 * the main thread only waits for signals: SIGHUP reloads, SIGTERM/SIGINT
 * drain and stop. The signals are blocked before any thread exists, so
 * every thread inherits the mask and only sigwait() here sees them.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "audit/audit.h"
#include "base/buf.h"
#include "base/secmem.h"
#include "core/keymeta.h"
#include "core/keys.h"
#include "vaultd/keeper.h"
#include "vaultd/metrics.h"
#include "vaultd/server.h"
#include "vaultd/vaultd.h"

#define DRAIN_SECONDS   10
#define DEV_AUDIT_KEY   "audit-hmac"
#define DEV_TOKEN_BYTES 32
/* "pvt_" + base64url of 32 bytes (43) + NUL */
#define DEV_TOKEN_LEN   (4 + 43)

static void say(const char *fmt, ...) PV_PRINTF(1, 2);

static void
say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vaultd: %s\n", line);
}

/* "what: reason" with the error's detail when there is one. */
static void
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
		   "  --help, --version\n"
		   "\n"
		   "Signals: SIGHUP reloads config and bundle; SIGTERM/SIGINT drain and stop.\n");
}

struct opts {
	const char *config;
	const char *dev_dir;
	int check;
	int dev;
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
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
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

/* ---- --dev: a configuration made here, validated like a file ---- */

/* The dev directory, created owner-only if missing, as an absolute path. */
static pv_err
dev_dir(const char *given, char **out)
{
	const char *dir = given;
	char *abs = NULL;
	struct stat st;

	if (dir == NULL)
		dir = getenv("P11VAULT_DEV_DIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "./vaultd-dev";
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		pv_err_set_detail("--dev-dir %s: %s", dir, strerror(errno));
		return PV_ERR_IO;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		pv_err_set_detail("--dev-dir %s: not a directory", dir);
		return PV_ERR_IO;
	}
	abs = realpath(dir, NULL);
	if (abs == NULL) {
		pv_err_set_detail("--dev-dir %s: %s", dir, strerror(errno));
		return PV_ERR_IO;
	}
	*out = abs;
	return PV_OK;
}

/* A fresh admin bearer token (pvt_ + 32 random bytes, base64url) in
 * guarded memory, and its SHA-256 as config.md's token_sha256. */
static pv_err
dev_token(pv_secret **out, char hash_b64[64])
{
	pv_secret *raw = NULL, *tok = NULL;
	uint8_t h[crypto_hash_sha256_BYTES];
	char *t;
	pv_err r;

	if ((r = pv_secret_new(DEV_TOKEN_BYTES, &raw)) != PV_OK ||
	    (r = pv_secret_new(DEV_TOKEN_LEN + 1, &tok)) != PV_OK)
		goto out;
	randombytes_buf(pv_secret_rw(raw), DEV_TOKEN_BYTES);
	if ((r = pv_secret_set_len(raw, DEV_TOKEN_BYTES)) != PV_OK)
		goto out;
	t = (char *)pv_secret_rw(tok);
	memcpy(t, "pvt_", 4);
	sodium_bin2base64(t + 4, DEV_TOKEN_LEN + 1 - 4, pv_secret_ro(raw), DEV_TOKEN_BYTES,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((r = pv_secret_set_len(tok, DEV_TOKEN_LEN)) != PV_OK)
		goto out;
	crypto_hash_sha256(h, pv_secret_ro(tok), DEV_TOKEN_LEN);
	sodium_bin2base64(hash_b64, 64, h, sizeof(h), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	pv_secret_lock(tok);
	*out = tok;
	tok = NULL;
out:
	pv_secret_free(raw);
	pv_secret_free(tok);
	return r;
}

static pv_err
dev_config(const char *dir, const char *token_hash, struct pv_config **out)
{
	const char *uri = getenv("P11VAULT_TOKEN"), *module = getenv("P11VAULT_MODULE");
	const char *pin = getenv("P11VAULT_PIN_SOURCE"), *creds = getenv("CREDENTIALS_DIRECTORY");
	cJSON *root = NULL, *o, *c, *rules, *rule, *ops;
	char path[PATH_MAX];
	char *text = NULL;
	pv_buf *in = NULL;
	pv_err r = PV_ERR_NOMEM;
	int op;

	if (uri == NULL || uri[0] == '\0') {
		pv_err_set_detail(
		    "--dev: set P11VAULT_TOKEN (and P11VAULT_MODULE, P11VAULT_PIN_SOURCE) as for vaultctl");
		return PV_ERR_USAGE;
	}
	if ((pin == NULL || pin[0] == '\0') && creds != NULL)
		pin = "cred:p11vault-pin";
	if (pin == NULL || pin[0] == '\0') {
		pv_err_set_detail(
		    "--dev: set P11VAULT_PIN_SOURCE (file:, env:, fd: or cred:; a daemon cannot prompt)");
		return PV_ERR_USAGE;
	}
	if ((root = cJSON_CreateObject()) == NULL)
		goto out;
	if ((o = cJSON_AddObjectToObject(root, "token")) == NULL || !cJSON_AddStringToObject(o, "uri", uri) ||
	    (module != NULL && module[0] != '\0' && !cJSON_AddStringToObject(o, "module", module)) ||
	    !cJSON_AddStringToObject(o, "pin_source", pin))
		goto out;
	snprintf(path, sizeof(path), "%s/vaultd.sock", dir);
	if ((o = cJSON_AddObjectToObject(root, "listen")) == NULL ||
	    (o = cJSON_AddObjectToObject(o, "unix")) == NULL || !cJSON_AddStringToObject(o, "path", path) ||
	    !cJSON_AddStringToObject(o, "mode", "0600"))
		goto out;
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	if ((o = cJSON_AddObjectToObject(root, "audit")) == NULL ||
	    !cJSON_AddStringToObject(o, "file", path) ||
	    !cJSON_AddStringToObject(o, "hmac_key", DEV_AUDIT_KEY))
		goto out;
	if ((o = cJSON_AddObjectToObject(root, "jwt")) == NULL ||
	    !cJSON_AddStringToObject(o, "issuer", "vaultd-dev"))
		goto out;
	if ((o = cJSON_AddArrayToObject(root, "clients")) == NULL || (c = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToArray(o, c))
		goto out;
	if (!cJSON_AddStringToObject(c, "name", "dev-admin") ||
	    !cJSON_AddStringToObject(c, "role", "admin") ||
	    (o = cJSON_AddObjectToObject(c, "auth")) == NULL ||
	    !cJSON_AddStringToObject(o, "token_sha256", token_hash))
		goto out;
	/* Every operation a rule can grant (reload comes with the role). */
	if ((rules = cJSON_AddArrayToObject(c, "rules")) == NULL || (rule = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToArray(rules, rule) || (ops = cJSON_AddArrayToObject(rule, "ops")) == NULL)
		goto out;
	for (op = 0; op < PV_OP_COUNT; op++) {
		cJSON *s;

		if (op == PV_OP_RELOAD)
			continue;
		if ((s = cJSON_CreateString(pv_op_name((pv_op)op))) == NULL || !cJSON_AddItemToArray(ops, s))
			goto out;
	}
	if ((o = cJSON_AddArrayToObject(rule, "keys")) == NULL ||
	    !cJSON_AddItemToArray(o, cJSON_CreateString("*")))
		goto out;
	if ((text = cJSON_PrintUnformatted(root)) == NULL)
		goto out;
	if ((r = pv_buf_view(text, strlen(text), &in)) != PV_OK)
		goto out;
	r = pv_config_parse(in, out);
out:
	pv_buf_free(in);
	free(text);
	cJSON_Delete(root);
	return r;
}

/* In dev mode the audit log's checkpoint key is made when missing. */
static pv_err
dev_audit_key(struct vd_keeper *k)
{
	pv_keystore *ks = vd_keeper_keystore(k);
	struct pv_key *key = NULL;
	pv_err r = pv_keys_get(ks, DEV_AUDIT_KEY, &key);

	if (r == PV_ERR_NOT_FOUND) {
		r = pv_keys_create(ks, DEV_AUDIT_KEY, PV_ALG_HMAC_SHA256, &key);
		if (r == PV_OK)
			say("dev: created the audit checkpoint key %s on the token", DEV_AUDIT_KEY);
	}
	pv_key_free(key);
	return r;
}

/* ---- running ---- */

/* What a reload cannot change, as one comparable string. */
static void
fixed_settings(const struct pv_config *c, char *buf, size_t n)
{
	snprintf(buf, n, "%d|%s|%o|%s|%d|%s|%s|%s|%s|%u|%u|%u", c->listen.has_unix,
		 c->listen.unix_path ? c->listen.unix_path : "", (unsigned)c->listen.unix_mode,
		 c->listen.unix_group ? c->listen.unix_group : "", c->listen.has_tcp,
		 c->listen.tcp_address ? c->listen.tcp_address : "",
		 c->listen.tls_cert ? c->listen.tls_cert : "", c->listen.tls_key ? c->listen.tls_key : "",
		 c->listen.client_ca ? c->listen.client_ca : "", (unsigned)c->workers,
		 (unsigned)c->limits.max_body_bytes, (unsigned)c->limits.request_timeout_ms);
}

static void
reload(struct vd_daemon *d, const char *boot_fixed)
{
	struct vd_gen *g;
	char now[2048];
	pv_err e;

	if (d->config_path == NULL) {
		say("SIGHUP: nothing to reload (--dev without --config)");
		return;
	}
	pv_err_clear_detail();
	e = vd_reload(d);
	if (e != PV_OK) {
		say_err("reload failed, the running configuration stays", e);
		return;
	}
	/* An optional bundle (or any bundle in dev mode) that failed leaves a
	 * warning in the detail of a successful reload. */
	if (pv_err_detail()[0] != '\0')
		say("reload: warning: %s", pv_err_detail());
	g = vd_gen_acquire(d);
	fixed_settings(g->cfg, now, sizeof(now));
	say("reloaded %s (generation %llu)", d->config_path, (unsigned long long)g->number);
	if (strcmp(now, boot_fixed) != 0)
		say("listen, workers and limits changes take effect at the next start");
	vd_gen_release(g);
}

static void
drain(struct vd_daemon *d, struct vd_server *srv)
{
	struct timespec step = {0, 10 * 1000 * 1000};
	unsigned waited = 0, n = atomic_load(&d->inflight);

	say("stopping: no new connections, %u request(s) in flight", n);
	vd_server_quiesce(srv);
	while (atomic_load(&d->inflight) > 0 && waited < DRAIN_SECONDS * 100) {
		nanosleep(&step, NULL);
		waited++;
	}
	n = atomic_load(&d->inflight);
	if (n > 0)
		say("stopping: %u request(s) still running after %d s are cut off", n, DRAIN_SECONDS);
	/* Not before: requests still arriving on open connections are served. */
	atomic_store(&d->ready, 0);
	vd_server_stop(srv);
}

static pv_err
open_audit(struct vd_daemon *d, const struct pv_config *cfg)
{
	struct pv_audit_opts o;

	memset(&o, 0, sizeof(o));
	o.path = cfg->audit.file;
	o.ks = vd_keeper_keystore(d->keeper);
	o.hmac_key = cfg->audit.hmac_key;
	o.every = cfg->audit.checkpoint_every;
	o.seconds = cfg->audit.checkpoint_seconds;
	o.fsync = PV_AUDIT_FSYNC_CHECKPOINT;
	o.syslog = cfg->audit.syslog;
	return pv_audit_open(&o, &d->audit);
}

static int
check_config(const char *path)
{
	struct pv_config *cfg = NULL;
	pv_err e;

	pv_err_clear_detail();
	e = pv_config_load(path, &cfg);
	if (e != PV_OK) {
		say_err(path, e);
		return 2;
	}
	pv_config_free(cfg);
	say("%s: valid", path);
	return 0;
}

/* Block the signals main() waits for, before any thread is started. */
static void
signals_setup(sigset_t *set)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* A parent may have left them ignored (a background job ignores
	 * SIGINT); ignored signals are dropped even when blocked. */
	sa.sa_handler = SIG_DFL;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct vd_daemon d;
	struct vd_server *srv = NULL;
	struct pv_config *cfg = NULL;
	struct vd_gen *g = NULL;
	pv_secret *admin = NULL;
	char *devdir = NULL, *warning = NULL;
	char hash[64], boot_fixed[2048];
	sigset_t set;
	int sig, rc = PV_EXIT_INTERNAL, stop = 0;
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

	signals_setup(&set);
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
		if ((e = dev_dir(o.dev_dir, &devdir)) != PV_OK || (e = dev_token(&admin, hash)) != PV_OK) {
			say_err("--dev", e);
			rc = pv_err_exit_code(e);
			goto out;
		}
		if ((e = dev_config(devdir, hash, &cfg)) != PV_OK) {
			say_err("--dev configuration", e);
			rc = PV_EXIT_USAGE;
			goto out;
		}
	}
	fixed_settings(cfg, boot_fixed, sizeof(boot_fixed));

	/* 2. token */
	pv_err_clear_detail();
	if ((e = vd_keeper_open(cfg, &d.keeper)) != PV_OK) {
		say_err("token login failed", e);
		rc = pv_err_exit_code(e);
		goto out;
	}
	say("logged in to token \"%s\"", vd_keeper_token_label(d.keeper));
	if (admin != NULL && (e = dev_audit_key(d.keeper)) != PV_OK) {
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
		say("warning: %s", warning);
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
	atomic_store(&d.ready, 1);
	say("ready (%u workers, body limit %u bytes, request timeout %u ms)", (unsigned)g->cfg->workers,
	    (unsigned)g->cfg->limits.max_body_bytes, (unsigned)g->cfg->limits.request_timeout_ms);
	vd_gen_release(g);
	g = NULL;

	while (!stop) {
		if (sigwait(&set, &sig) != 0)
			continue;
		switch (sig) {
		case SIGHUP:
			reload(&d, boot_fixed);
			break;
		case SIGTERM:
		case SIGINT:
			stop = 1;
			break;
		default:
			break;
		}
	}
	drain(&d, srv);
	srv = NULL;
	rc = PV_EXIT_OK;
out:
	vd_server_stop(srv);
	if (d.audit != NULL && (e = pv_audit_close(d.audit)) != PV_OK) {
		say_err("closing the audit log", e);
		if (rc == PV_EXIT_OK)
			rc = pv_err_exit_code(e);
	}
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
