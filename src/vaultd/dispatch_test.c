/*
 * vd_dispatch without a token: the real route table, policy and replies,
 * with the handlers, the generation and the metrics stubbed here (the
 * keeper is covered by keeper_test and the whole daemon by
 * tests/integration/vaultd_api.sh). Checks the order of the checks and the
 * refusals, the generation reference, and what the metrics are told.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "vaultd/handlers.h"
#include "vaultd/metrics.h"

/* Bearer tokens and their SHA-256 in base64url (as in policy_test.c). */
#define APP_TOKEN "pvt_wallet"
#define APP_HASH  "dlpbIQ1npkf7eJuvaICVd7HU3_r8iOeAt1tXRxePBYQ"
#define OPS_TOKEN "pvt_admin"
#define OPS_HASH  "C34xkIM6mfkRhgtjk352CAae9KfR-Dixm6hDLpKDxJA"

static const char test_config[] =
    "{\"token\":{\"uri\":\"pkcs11:token=t\",\"pin_source\":\"env:PIN\"},"
    "\"listen\":{\"unix\":{\"path\":\"/run/v.sock\"}},\"audit\":{\"syslog\":true,\"hmac_key\":\"audit-hmac\"},"
    "\"clients\":["
    "{\"name\":\"app\",\"auth\":{\"token_sha256\":\"" APP_HASH "\"},"
    "\"rules\":[{\"ops\":[\"sign\",\"keys.read\"],\"keys\":[\"ec*\"]}],"
    "\"rate\":{\"per_second\":1000,\"burst\":1000}},"
    "{\"name\":\"ops\",\"role\":\"admin\",\"auth\":{\"token_sha256\":\"" OPS_HASH "\"}},"
    "{\"name\":\"slow\",\"auth\":{\"uid\":1002},\"rules\":[{\"ops\":[\"sign\"],\"keys\":[\"x*\"]}],"
    "\"rate\":{\"per_second\":0.001,\"burst\":1}},"
    "{\"name\":\"none\",\"auth\":{\"uid\":1003}}"
    "]}";

/* ---- stubs ---- */

static struct vd_gen gen;
static int gen_refs;
static struct {
	int called;
	enum vd_route_id id;
	char name[VD_NAME_MAX + 1];
	char client[64];
	int leave_empty; /* the handler forgets to reply */
} handled;
static struct {
	int requests, allowed, denied, token_errors;
	char op[32];
	int has_key;
	unsigned status;
} metered;

struct vd_gen *
vd_gen_acquire(struct vd_daemon *d)
{
	(void)d;
	gen_refs++;
	return &gen;
}

void
vd_gen_release(struct vd_gen *g)
{
	assert_ptr_equal(g, &gen);
	gen_refs--;
}

void
vd_metrics_request(struct vd_metrics *m, const char *op, const char *key, unsigned status, double seconds)
{
	(void)m;
	assert_true(seconds >= 0);
	metered.requests++;
	snprintf(metered.op, sizeof(metered.op), "%s", op);
	metered.has_key = key != NULL;
	metered.status = status;
}

void
vd_metrics_decision(struct vd_metrics *m, int allowed)
{
	(void)m;
	if (allowed)
		metered.allowed++;
	else
		metered.denied++;
}

void
vd_metrics_token_error(struct vd_metrics *m, pv_err e)
{
	(void)m;
	(void)e;
	metered.token_errors++;
}

pv_err
vd_keeper_key(struct vd_keeper *k, struct vd_kreq *q, struct pv_key **out, enum vd_key_origin *origin)
{
	(void)k;
	(void)q;
	(void)origin;
	*out = NULL;
	return PV_ERR_NOT_FOUND;
}

static void
stub_handler(struct vd_ctx *c)
{
	cJSON *o = cJSON_CreateObject();

	handled.called++;
	handled.id = c->route->id;
	snprintf(handled.name, sizeof(handled.name), "%s", c->name != NULL ? c->name : "");
	snprintf(handled.client, sizeof(handled.client), "%s",
		 c->client != NULL ? pv_client_name(c->client) : "");
	if (!handled.leave_empty)
		vd_ok(c, o);
	cJSON_Delete(o);
}

/* Every handler of the route table is the stub. */
#define STUB_ROW(id, method, pattern, param, label, op, flags, handler)                                      \
	void handler(struct vd_ctx *c)                                                                       \
	{                                                                                                    \
		stub_handler(c);                                                                             \
	}
VD_ROUTES(STUB_ROW)
#undef STUB_ROW

/* ---- fixture ---- */

static struct vd_daemon daemon_;

static int
setup(void **state)
{
	pv_buf *b = NULL;

	(void)state;
	memset(&gen, 0, sizeof(gen));
	memset(&daemon_, 0, sizeof(daemon_));
	assert_int_equal(pv_buf_view(test_config, strlen(test_config), &b), PV_OK);
	if (pv_config_parse(b, &gen.cfg) != PV_OK)
		fail_msg("%s", pv_err_detail());
	pv_buf_free(b);
	assert_int_equal(pv_policy_from_config(gen.cfg, &gen.policy), PV_OK);
	/* a non-NULL pointer that is never dereferenced: the stubs ignore it */
	daemon_.metrics = (struct vd_metrics *)&metered;
	atomic_store(&daemon_.ready, 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pv_policy_free(gen.policy);
	pv_config_free(gen.cfg);
	return 0;
}

/* Dispatch one request; returns the status, the body in resp. */
static unsigned
run(const char *method, const char *path, const char *bearer, uint32_t uid, struct vd_resp *resp)
{
	struct vd_req req;

	memset(&req, 0, sizeof(req));
	memset(&handled, 0, sizeof(handled));
	memset(&metered, 0, sizeof(metered));
	req.method = method;
	req.path = path;
	req.bearer = bearer;
	if (uid != 0) {
		req.peer.has_uid = 1;
		req.peer.uid = uid;
	}
	memcpy(req.rid, "AAAAAAAAAAAAAAAAAAAAAA", VD_RID_LEN + 1);
	vd_dispatch(&daemon_, &req, resp);
	assert_int_equal(gen_refs, 0);
	assert_int_equal(metered.requests, 1);
	assert_int_equal(metered.status, resp->status);
	return resp->status;
}

/* The error code of a reply, and that it is the only thing in it. */
static void
expect_code(const struct vd_resp *r, const char *code)
{
	cJSON *j = cJSON_ParseWithLength(r->body, r->body_len), *e;

	assert_non_null(j);
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	assert_non_null(e);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code")), code);
	cJSON_Delete(j);
}

static void
test_routing_refusals(void **state)
{
	struct vd_resp r;

	(void)state;
	assert_int_equal(run("GET", "/v1/nope", APP_TOKEN, 0, &r), 404);
	expect_code(&r, "not_found");
	assert_string_equal(metered.op, "none");
	assert_false(handled.called);
	vd_resp_clear(&r);
	assert_int_equal(run("PUT", "/v1/keys", APP_TOKEN, 0, &r), 405);
	expect_code(&r, "method_not_allowed");
	assert_string_equal(metered.op, "keys.read");
	vd_resp_clear(&r);
	assert_int_equal(run("POST", "/v1/keys/e%63/sign", APP_TOKEN, 0, &r), 400);
	expect_code(&r, "bad_request");
	/* path bytes never become a metrics label */
	assert_false(metered.has_key);
	vd_resp_clear(&r);
}

static void
test_public_and_ready(void **state)
{
	struct vd_resp r;

	(void)state;
	assert_int_equal(run("GET", "/v1/health", NULL, 0, &r), 200);
	assert_int_equal(handled.id, VD_R_HEALTH);
	assert_string_equal(handled.client, "");
	vd_resp_clear(&r);
	assert_int_equal(run("GET", "/.well-known/jwks.json", NULL, 0, &r), 200);
	assert_int_equal(handled.id, VD_R_JWKS);
	/* no policy decision for public routes */
	assert_int_equal(metered.allowed + metered.denied, 0);
	vd_resp_clear(&r);

	atomic_store(&daemon_.ready, 0);
	assert_int_equal(run("GET", "/v1/keys", APP_TOKEN, 0, &r), 503);
	expect_code(&r, "not_ready");
	assert_false(handled.called);
	vd_resp_clear(&r);
	assert_int_equal(run("GET", "/.well-known/jwks.json", NULL, 0, &r), 503);
	vd_resp_clear(&r);
	assert_int_equal(run("GET", "/v1/ready", NULL, 0, &r), 200); /* the stub answers */
	assert_int_equal(handled.id, VD_R_READY);
	vd_resp_clear(&r);
	assert_int_equal(run("GET", "/metrics", OPS_TOKEN, 0, &r), 200);
	vd_resp_clear(&r);
	atomic_store(&daemon_.ready, 1);
}

static void
test_authentication(void **state)
{
	struct vd_req req;
	struct vd_resp r;

	(void)state;
	assert_int_equal(run("GET", "/v1/keys", NULL, 0, &r), 401);
	expect_code(&r, "unauthenticated");
	vd_resp_clear(&r);
	assert_int_equal(run("GET", "/v1/keys", "pvt_wrong", 0, &r), 401);
	vd_resp_clear(&r);
	/* a wrong token does not fall back to the uid */
	assert_int_equal(run("GET", "/v1/keys", "pvt_wrong", 1003, &r), 401);
	assert_null(strstr(r.body, "pvt_wrong"));
	vd_resp_clear(&r);
	/* an Authorization header that is not Bearer */
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = "/v1/keys";
	req.bad_authorization = 1;
	req.peer.has_uid = 1;
	req.peer.uid = 1003;
	vd_dispatch(&daemon_, &req, &r);
	assert_int_equal(r.status, 401);
	assert_int_equal(gen_refs, 0);
	vd_resp_clear(&r);
}

static void
test_policy(void **state)
{
	struct vd_resp r;

	(void)state;
	assert_int_equal(run("POST", "/v1/keys/ec-1/sign", APP_TOKEN, 0, &r), 200);
	assert_int_equal(handled.id, VD_R_KEY_SIGN);
	assert_string_equal(handled.name, "ec-1");
	assert_string_equal(handled.client, "app");
	assert_int_equal(metered.allowed, 1);
	/* the handler did not say the key exists: no key label */
	assert_false(metered.has_key);
	vd_resp_clear(&r);
	assert_int_equal(run("POST", "/v1/keys/rsa/sign", APP_TOKEN, 0, &r), 403);
	expect_code(&r, "forbidden");
	assert_int_equal(metered.denied, 1);
	assert_false(handled.called);
	vd_resp_clear(&r);
	/* the admin role: reload and secret names, not values or keys */
	assert_int_equal(run("POST", "/v1/admin/reload", OPS_TOKEN, 0, &r), 200);
	vd_resp_clear(&r);
	assert_int_equal(run("GET", "/v1/secrets", OPS_TOKEN, 0, &r), 200);
	vd_resp_clear(&r);
	assert_int_equal(run("GET", "/v1/secrets/DB", OPS_TOKEN, 0, &r), 403);
	vd_resp_clear(&r);
	assert_int_equal(run("POST", "/v1/admin/reload", APP_TOKEN, 0, &r), 403);
	vd_resp_clear(&r);
	/* /metrics: keys.read from any rule, or admin; else 403 */
	assert_int_equal(run("GET", "/metrics", APP_TOKEN, 0, &r), 200);
	vd_resp_clear(&r);
	assert_int_equal(run("GET", "/metrics", NULL, 1003, &r), 403);
	vd_resp_clear(&r);
	/* jwt/verify: any authenticated client, no decision */
	assert_int_equal(run("POST", "/v1/jwt/verify", NULL, 1003, &r), 200);
	assert_int_equal(metered.allowed + metered.denied, 0);
	vd_resp_clear(&r);
	assert_int_equal(run("POST", "/v1/jwt/verify", NULL, 0, &r), 401);
	vd_resp_clear(&r);
}

static void
test_rate_limit(void **state)
{
	struct vd_resp r;

	(void)state;
	assert_int_equal(run("POST", "/v1/keys/x/sign", NULL, 1002, &r), 200);
	vd_resp_clear(&r);
	assert_int_equal(run("POST", "/v1/keys/x/sign", NULL, 1002, &r), 429);
	expect_code(&r, "rate_limited");
	assert_true(r.retry_after >= 1);
	assert_false(handled.called);
	/* no decision was made for a request refused by the rate limit */
	assert_int_equal(metered.allowed + metered.denied, 0);
	vd_resp_clear(&r);
}

static void
test_handler_without_reply(void **state)
{
	struct vd_req req;
	struct vd_resp r;

	(void)state;
	memset(&req, 0, sizeof(req));
	memset(&handled, 0, sizeof(handled));
	handled.leave_empty = 1;
	req.method = "GET";
	req.path = "/v1/health";
	vd_dispatch(&daemon_, &req, &r);
	assert_int_equal(r.status, 500);
	expect_code(&r, "internal");
	vd_resp_clear(&r);
}

/* The handler table is made from the route table: every route has one,
 * and it is the handler its row names (here every row names the stub, so
 * the stub must see the route it was called for). */
static void
test_every_route_has_a_handler(void **state)
{
	const struct vd_route *t;
	size_t n, i;

	(void)state;
	t = vd_route_table(&n);
	assert_int_equal(n, VD_R_COUNT);
	for (i = 0; i < n; i++) {
		struct vd_ctx c;
		struct vd_resp r;

		assert_non_null(vd_route_handler(t[i].id));
		memset(&c, 0, sizeof(c));
		memset(&r, 0, sizeof(r));
		memset(&handled, 0, sizeof(handled));
		c.d = &daemon_;
		c.route = &t[i];
		c.resp = &r;
		vd_route_handler(t[i].id)(&c);
		assert_int_equal(handled.called, 1);
		assert_int_equal(handled.id, t[i].id);
		vd_resp_clear(&r);
	}
	assert_null(vd_route_handler(VD_R_COUNT));
}

static void
test_reject(void **state)
{
	struct vd_req req;
	struct vd_resp r;

	(void)state;
	memset(&req, 0, sizeof(req));
	memset(&metered, 0, sizeof(metered));
	req.method = "POST";
	req.path = "/v1/keys/ec/sign";
	vd_dispatch_reject(&daemon_, &req, 413, "too_large", "the body is larger than 64 bytes", &r);
	assert_int_equal(r.status, 413);
	expect_code(&r, "too_large");
	assert_int_equal(metered.requests, 1);
	assert_string_equal(metered.op, "sign");
	assert_int_equal(metered.status, 413);
	vd_resp_clear(&r);
	req.path = "/elsewhere";
	vd_dispatch_reject(&daemon_, &req, 401, "unauthenticated", "bad client certificate", &r);
	assert_string_equal(metered.op, "none");
	vd_resp_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routing_refusals), cmocka_unit_test(test_public_and_ready),
	    cmocka_unit_test(test_authentication),   cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_rate_limit),       cmocka_unit_test(test_handler_without_reply),
	    cmocka_unit_test(test_reject),           cmocka_unit_test(test_every_route_has_a_handler),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
