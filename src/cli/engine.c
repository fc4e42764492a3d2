/* engine.c: see engine.h. */
#include "cli/engine.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

enum kind { K_MISSING, K_NOTEXEC, K_DYNAMIC, K_STATIC, K_SCRIPT, K_ELF32, K_OTHER, K_SETID, K_DIR };

struct probe {
	enum kind kind;
	char interp[PATH_MAX]; /* PT_INTERP for K_DYNAMIC, the #! line for K_SCRIPT */
};

static void probe_file(const char *path, struct probe *p)
{
	Elf64_Ehdr eh;
	struct stat st;
	unsigned char head[256];
	ssize_t n;
	int fd;

	memset(p, 0, sizeof(*p));
	if (stat(path, &st) != 0) {
		p->kind = K_MISSING;
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		p->kind = K_DIR;
		return;
	}
	if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0) {
		p->kind = K_NOTEXEC;
		return;
	}
	if (st.st_mode & (S_ISUID | S_ISGID)) {
		p->kind = K_SETID;
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		p->kind = K_NOTEXEC;
		return;
	}
	n = pread(fd, head, sizeof(head) - 1, 0);
	if (n >= 2 && head[0] == '#' && head[1] == '!') {
		char *nl;
		head[n] = 0;
		nl = strchr((char *)head + 2, '\n');
		if (nl)
			*nl = 0;
		p->kind = K_SCRIPT;
		ward_strlcpy(p->interp, (char *)head + 2, sizeof(p->interp));
		close(fd);
		return;
	}
	p->kind = K_OTHER;
	if (n < (ssize_t)EI_NIDENT || memcmp(head, ELFMAG, SELFMAG) != 0)
		goto out;
	if (head[EI_CLASS] != ELFCLASS64) {
		p->kind = K_ELF32;
		goto out;
	}
	if (n < (ssize_t)sizeof(eh))
		goto out;
	memcpy(&eh, head, sizeof(eh));
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 512)
		goto out;
	p->kind = K_STATIC;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) != (ssize_t)sizeof(ph)) {
			p->kind = K_OTHER;
			goto out;
		}
		if (ph.p_type == PT_INTERP) {
			if (ph.p_filesz == 0 || ph.p_filesz >= sizeof(p->interp) ||
			    pread(fd, p->interp, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz) {
				p->kind = K_OTHER;
				goto out;
			}
			p->interp[ph.p_filesz] = 0;
			p->kind = K_DYNAMIC;
			break;
		}
	}
out:
	close(fd);
}

static int refuse(const char *shown, const char *path, const struct probe *p, int *code)
{
	*code = 126;
	switch (p->kind) {
	case K_MISSING:
		*code = 127;
		ward_error("cannot run %s: no such file; check the path", shown);
		break;
	case K_DIR:
		ward_error("cannot run %s: it is a directory", shown);
		break;
	case K_NOTEXEC:
		ward_error("cannot run %s: not an executable file (check its permissions)", path);
		break;
	case K_SETID:
		ward_error("cannot run %s: set-user-ID and set-group-ID programs cannot be entered by the runtime; use a copy without those bits",
			   path);
		break;
	case K_SCRIPT: {
		char interp[PATH_MAX];
		ward_strlcpy(interp, p->interp, sizeof(interp));
		for (char *s = interp; *s; s++)
			if (*s == ' ' || *s == '\t') {
				*s = 0;
				break;
			}
		ward_error("cannot run %s: it is a script (#!%s), which would need exec inside the enclave; run its interpreter instead: ward run %s %s",
			   path, p->interp, interp, path);
		break;
	}
	case K_STATIC:
		ward_error("cannot run %s: it is statically linked, so the runtime cannot enter it; use a dynamically linked build of the program",
			   path);
		break;
	case K_ELF32:
		ward_error("cannot run %s: 32-bit programs are not supported; use a 64-bit build", path);
		break;
	default:
		ward_error("cannot run %s: not an ELF executable", path);
		break;
	}
	return -1;
}

int ward_engine_resolve(const char *program, char out[PATH_MAX], int *code, int *skipped_wrapper)
{
	struct probe p;
	char cand[PATH_MAX], script[PATH_MAX] = "";
	const char *path_env;
	char *paths, *dir, *save = NULL;

	*code = 0;
	*skipped_wrapper = 0;
	if (program == NULL || *program == 0) {
		*code = 127;
		ward_error("no program given; usage: ward run [OPTIONS] [--] PROGRAM [ARGS...]");
		return -1;
	}
	if (strchr(program, '/') != NULL) {
		probe_file(program, &p);
		if (p.kind != K_DYNAMIC)
			return refuse(program, program, &p, code);
		if (realpath(program, out) == NULL) {
			*code = 127;
			ward_error("cannot run %s: %s", program, strerror(errno));
			return -1;
		}
		return 0;
	}
	path_env = getenv("PATH");
	if (path_env == NULL || *path_env == 0)
		path_env = "/usr/local/bin:/usr/bin:/bin";
	paths = strdup(path_env);
	if (paths == NULL) {
		*code = 1;
		return -1;
	}
	for (dir = strtok_r(paths, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		if (snprintf(cand, sizeof(cand), "%s/%s", *dir ? dir : ".", program) >= (int)sizeof(cand))
			continue;
		probe_file(cand, &p);
		if (p.kind == K_MISSING || p.kind == K_DIR || p.kind == K_NOTEXEC)
			continue;
		if (p.kind == K_SCRIPT) {
			if (script[0] == 0)
				ward_strlcpy(script, cand, sizeof(script));
			continue;
		}
		if (p.kind != K_DYNAMIC) {
			free(paths);
			return refuse(program, cand, &p, code);
		}
		free(paths);
		if (realpath(cand, out) == NULL) {
			*code = 127;
			ward_error("cannot run %s: %s", cand, strerror(errno));
			return -1;
		}
		*skipped_wrapper = script[0] != 0;
		if (script[0] != 0)
			ward_warn("%s on PATH is a wrapper script (%s), which would need exec inside the enclave; running %s, the next %s on PATH (give a full path to choose another)",
				  program, script, out, program);
		return 0;
	}
	free(paths);
	if (script[0] != 0) {
		*code = 126;
		ward_error("cannot run %s: %s is a wrapper script, which would need exec inside the enclave, and no other %s is on PATH; pass the real interpreter's path (e.g. ward run /usr/bin/%s)",
			   program, script, program, program);
		return -1;
	}
	*code = 127;
	ward_error("cannot run %s: not found on PATH; check the name or give a full path", program);
	return -1;
}

/* The directory of the running ward binary. */
static int self_dir(char out[PATH_MAX])
{
	ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
	char *slash;
	if (n <= 0)
		return -1;
	out[n] = 0;
	slash = strrchr(out, '/');
	if (slash == NULL)
		return -1;
	*slash = 0;
	return 0;
}

int ward_tool_path(char out[PATH_MAX])
{
	char self[PATH_MAX];
	if (self_dir(self) != 0)
		return -1;
	return snprintf(out, PATH_MAX, "%s/ward-tool", self) < PATH_MAX ? 0 : -1;
}

int ward_tool_run(char *const argv[])
{
	char tool[PATH_MAX];
	int status;
	pid_t pid;

	if (ward_tool_path(tool) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execv(tool, argv);
		ward_error("cannot start %s: %s; reinstall ward (ward and ward-tool belong together)", tool, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int ward_runtime_path(char out[PATH_MAX])
{
	static const char *const rel[] = { "libward-rt.so", "../lib/ward/libward-rt.so",
					   "../lib/x86_64-linux-gnu/ward/libward-rt.so",
					   "../lib64/ward/libward-rt.so" };
	char self[PATH_MAX], cand[PATH_MAX * 2];

	if (self_dir(self) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s/%s", self, rel[i]);
		if (access(cand, R_OK) == 0 && realpath(cand, out) != NULL)
			return 0;
	}
	return -1;
}

int ward_engine_libraries(const char *engine, const char *runtime, struct ward_measure_input *in,
			  char *err, size_t errlen)
{
	struct probe p;
	int pipefd[2];
	pid_t pid;
	FILE *f;
	char line[PATH_MAX + 128];
	int status, rc = 0;

	in->nlibs = 0;
	probe_file(engine, &p);
	if (p.kind != K_DYNAMIC) {
		snprintf(err, errlen, "%s is not a dynamically linked program", engine);
		return -1;
	}
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		dup2(pipefd[1], STDOUT_FILENO);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		setenv("LD_PRELOAD", runtime, 1);
		unsetenv("LD_TRACE_LOADED_OBJECTS");
		execl(p.interp, p.interp, "--list", engine, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	if (f == NULL) {
		close(pipefd[0]);
		waitpid(pid, &status, 0);
		snprintf(err, errlen, "fdopen: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = line, *arrow, *end;
		while (*s == ' ' || *s == '\t')
			s++;
		arrow = strstr(s, "=> ");
		if (arrow != NULL)
			s = arrow + 3;
		if (strncmp(s, "not found", 9) == 0) {
			snprintf(err, errlen, "%s needs a library that cannot be found: %.200s", engine, line);
			rc = -1;
			break;
		}
		if (*s != '/')
			continue; /* the vDSO */
		end = strstr(s, " (0x");
		if (end == NULL)
			end = s + strcspn(s, "\n");
		*end = 0;
		if (strcmp(s, runtime) == 0)
			continue;
		if (in->nlibs >= WARD_MEASURE_MAX_LIBS) {
			snprintf(err, errlen, "%s loads more than %d libraries", engine, WARD_MEASURE_MAX_LIBS);
			rc = -1;
			break;
		}
		in->libs[in->nlibs] = strdup(s);
		if (in->libs[in->nlibs] == NULL) {
			rc = -1;
			break;
		}
		in->nlibs++;
	}
	fclose(f);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (rc == 0)
			snprintf(err, errlen, "the dynamic loader %s could not list the libraries of %s", p.interp, engine);
		rc = -1;
	}
	if (rc != 0)
		ward_engine_free(in);
	return rc;
}

void ward_engine_free(struct ward_measure_input *in)
{
	for (size_t i = 0; i < in->nlibs; i++)
		free((char *)in->libs[i]);
	in->nlibs = 0;
}
