/*
 * main() for a harness built without libFuzzer: feeds each file named on the
 * command line, or every file in a named directory, to
 * LLVMFuzzerTestOneInput once. With no arguments it replays the seed corpus
 * the build compiled in (PV_FUZZ_CORPUS), which is how `make check` runs it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "fuzz.h"

#define FUZZ_MAX_INPUT ((size_t)1 << 20)

static int
run_file(const char *path)
{
	pv_buf *b = NULL;
	pv_err r;

	if ((r = pv_buf_read_file(path, FUZZ_MAX_INPUT, &b)) != PV_OK) {
		fprintf(stderr, "%s: %s\n", path, pv_strerror(r));
		return -1;
	}
	LLVMFuzzerTestOneInput(pv_buf_ptr(b), pv_buf_len(b));
	pv_buf_free(b);
	return 1;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order (reproducible runs). */
static int
run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char **names = NULL, **tmp, path[4096];
	size_t n = 0, i;
	int count = 0, rc;

	if (d == NULL) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((tmp = realloc(names, (n + 1) * sizeof(*names))) == NULL)
			break;
		names = tmp;
		if ((names[n] = strdup(e->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (names != NULL)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path) ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			rc = 0;
		else
			rc = run_file(path);
		if (rc < 0)
			count = -1;
		else if (count >= 0)
			count += rc;
		free(names[i]);
	}
	free(names);
	return count;
}

static int
run_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	return S_ISDIR(st.st_mode) ? run_dir(path) : run_file(path);
}

int
main(int argc, char **argv)
{
	int i, n, total = 0, failed = 0;

	if (argc < 2) {
#ifdef PV_FUZZ_CORPUS
		n = run_path(PV_FUZZ_CORPUS);
		if (n <= 0) {
			fprintf(stderr, "%s: no corpus inputs in %s\n", argv[0], PV_FUZZ_CORPUS);
			return 1;
		}
		printf("%s: %d inputs from %s, no crash\n", argv[0], n, PV_FUZZ_CORPUS);
		return 0;
#else
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
#endif
	}
	for (i = 1; i < argc; i++) {
		if ((n = run_path(argv[i])) < 0)
			failed = 1;
		else
			total += n;
	}
	printf("%s: %d inputs, no crash\n", argv[0], total);
	return failed;
}
