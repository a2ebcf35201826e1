/* The C ABI from C: bindings/ci.sh compiles this against the static library and runs it.
 *
 *   cc -std=c11 -Wall -Wextra -Werror -I bindings/c/include bindings/c/tests/c/render_test.c \
 *      target/release/libopendesk_render_c.a -lpthread -ldl -lm -o target/c-render-test
 *   target/c-render-test TMPDIR
 *
 * Renders the bundled example (payload handed back), checks the progress events and their
 * user_data, a positioned error, and a cancel. Exit 0 when all hold; prints what failed. */
#include "opendesk_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int failures = 0;
#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                      \
    }                                                                  \
  } while (0)

struct seen {
  int events;
  int started;
  int finished;
  char last_stage[32];
  int out_of_order;
  int next_index;
  unsigned total;
};

static void on_progress(void *user_data, const OdrEvent *ev) {
  struct seen *s = user_data;
  s->events++;
  s->total = ev->total;
  if (ev->kind == ODR_STAGE_STARTED) {
    s->started++;
    if ((int)ev->index < s->next_index) s->out_of_order++;
    s->next_index = (int)ev->index;
  } else {
    s->finished++;
  }
  snprintf(s->last_stage, sizeof s->last_stage, "%s", ev->stage);
}

static void cancel_at_lint(void *user_data, const OdrEvent *ev) {
  if (strcmp(ev->stage, "lint") == 0) odr_cancel_request((const OdrCancel *)user_data);
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s TMPDIR\n", argv[0]);
    return 2;
  }
  char out[4096], meta[4200], input[4096], tpl[4200], file[4300];
  snprintf(out, sizeof out, "%s/out", argv[1]);
  snprintf(meta, sizeof meta, "%s/render-meta.yaml", out);

  CHECK(odr_abi_version() == ODR_ABI_VERSION);
  printf("opendesk-render %s, C ABI %u\n", odr_version(), odr_abi_version());

  /* 1. The bundled example, the payload handed back, progress counted. */
  struct seen s = {0};
  OdrRequest req = {0};
  req.abi_version = ODR_ABI_VERSION;
  req.out_dir = out;
  req.return_secrets = true;
  req.threads = 2;
  req.progress = on_progress;
  req.user_data = &s;
  OdrResult *res = NULL;
  int status = odr_render_request(&req, &res);
  CHECK(status == ODR_OK);
  CHECK(res != NULL && res->status == ODR_OK);
  if (res) {
    if (res->error.message) fprintf(stderr, "%s\n", res->error.message);
    CHECK(res->report_json && strstr(res->report_json, "\"status\":\"ok\""));
    CHECK(res->secrets_json && res->secrets_len == strlen(res->secrets_json));
    CHECK(res->error.code == 0 && res->error.message == NULL);
  }
  odr_result_free(res);
  CHECK(exists(meta));
  CHECK(s.total >= 12 && s.events == (int)(2 * s.total) && s.started == (int)s.total && s.finished == (int)s.total);
  CHECK(strcmp(s.last_stage, "write") == 0);
  CHECK(s.out_of_order == 0);
  printf("example: status %d, %d progress events, last %s\n", status, s.events, s.last_stage);

  /* 1b. An explicit dry run: the tree, no payload, the report counts the dropped values. */
  char out3[4200];
  snprintf(out3, sizeof out3, "%s/out3", argv[1]);
  OdrRequest dry = {0};
  dry.abi_version = ODR_ABI_VERSION;
  dry.out_dir = out3;
  dry.discard_secret_values = true;
  status = odr_render_request(&dry, &res);
  CHECK(status == ODR_OK);
  if (res) {
    CHECK(res->secrets_json == NULL && res->secrets_len == 0);
    CHECK(res->report_json && strstr(res->report_json, "\"secretValuesDiscarded\":"));
  }
  odr_result_free(res);
  /* ... and with no destination at all: status 2 naming the options, nothing written. */
  dry.discard_secret_values = false;
  status = odr_render_request(&dry, &res);
  CHECK(status == ODR_BAD_INPUT);
  if (res) {
    CHECK(res->error.message && strstr(res->error.message, "discard_secret_values"));
    CHECK(res->error.message && strstr(res->error.message, "return_secrets"));
  }
  odr_result_free(res);
  printf("dry run: ok; without a destination: status %d\n", status);

  /* 2. A duplicate key: status 2 with file, line and column. */
  snprintf(input, sizeof input, "%s/in", argv[1]);
  snprintf(tpl, sizeof tpl, "%s/rel", input);
  mkdir(input, 0755);
  mkdir(tpl, 0755);
  snprintf(tpl, sizeof tpl, "%s/rel/chart", input);
  mkdir(tpl, 0755);
  snprintf(tpl, sizeof tpl, "%s/rel/chart/templates", input);
  mkdir(tpl, 0755);
  snprintf(file, sizeof file, "%s/cm.yaml", tpl);
  FILE *f = fopen(file, "w");
  CHECK(f != NULL);
  if (f) {
    fputs("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n", f);
    fclose(f);
  }
  char out2[4200];
  snprintf(out2, sizeof out2, "%s/out2", argv[1]);
  OdrRequest bad = {0};
  bad.abi_version = ODR_ABI_VERSION;
  bad.input_dir = input;
  bad.out_dir = out2;
  bad.return_secrets = true;
  status = odr_render_request(&bad, &res);
  CHECK(status == ODR_BAD_INPUT);
  if (res) {
    CHECK(res->error.code == ODR_BAD_INPUT);
    CHECK(res->error.file && strstr(res->error.file, "cm.yaml"));
    CHECK(res->error.line == 5 && res->error.column > 0);
    CHECK(res->error.stage && strcmp(res->error.stage, "load") == 0);
    printf("error: %s:%u:%u (stage %s)\n", res->error.file, res->error.line, res->error.column, res->error.stage);
  }
  odr_result_free(res);
  CHECK(!exists(out2));

  /* 3. Cancelled at lint: status 4, nothing written. */
  OdrCancel *cancel = odr_cancel_new();
  CHECK(cancel != NULL);
  OdrRequest c = req;
  c.out_dir = out2;
  c.progress = cancel_at_lint;
  c.user_data = cancel;
  c.cancel = cancel;
  status = odr_render_request(&c, &res);
  CHECK(status == ODR_CANCELLED);
  odr_result_free(res);
  odr_cancel_free(cancel);
  CHECK(!exists(out2));
  printf("cancel: status %d\n", status);

  /* 4. The upgrade matrix of the bundled example's patches, for two versions; a bad version. */
  const char *versions[] = {"1.12.0", "1.17.0"};
  OdrMatrixRequest m = {0};
  m.abi_version = ODR_ABI_VERSION;
  m.versions = versions;
  m.versions_len = 2;
  status = odr_matrix_request(&m, &res);
  CHECK(status == ODR_OK);
  if (res) {
    if (res->error.message) fprintf(stderr, "%s\n", res->error.message);
    CHECK(res->report_json && strstr(res->report_json, "\"versions\":[\"1.12.0\",\"1.17.0\"]"));
    CHECK(res->report_json && strstr(res->report_json, "\"state\":\"out-of-range\""));
    CHECK(res->report_json && strstr(res->report_json, "\"markdown\":\"| patch |"));
  }
  odr_result_free(res);
  const char *bad_versions[] = {"1.13"};
  m.versions = bad_versions;
  m.versions_len = 1;
  status = odr_matrix_request(&m, &res);
  CHECK(status == ODR_BAD_INPUT);
  if (res) CHECK(res->error.message && strstr(res->error.message, "not a full semver version"));
  odr_result_free(res);
  printf("matrix: ok\n");

  /* 5. The plan of the rendered example against an empty bare repository: every resource
   * added, no base; nothing pushed. */
  char repo[4200], cmd[8600];
  snprintf(repo, sizeof repo, "%s/instance.git", argv[1]);
  snprintf(cmd, sizeof cmd, "git init -q --bare '%s'", repo);
  CHECK(system(cmd) == 0);
  OdrPlanRequest p = {0};
  p.abi_version = ODR_ABI_VERSION;
  p.out_dir = out;
  p.repo = repo;
  p.path = "instances/acme";
  p.timeout_secs = 60;
  status = odr_plan_request(&p, &res);
  CHECK(status == ODR_OK);
  if (res) {
    if (res->error.message) fprintf(stderr, "%s\n", res->error.message);
    CHECK(res->report_json && strstr(res->report_json, "\"changed\":true"));
    CHECK(res->report_json && strstr(res->report_json, "\"base\":null"));
    CHECK(res->report_json && strstr(res->report_json, "\"text\":"));
  }
  odr_result_free(res);
  p.path = "../elsewhere";
  status = odr_plan_request(&p, &res);
  CHECK(status == ODR_BAD_INPUT);
  odr_result_free(res);
  printf("plan: ok\n");

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
