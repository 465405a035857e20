// `vitnas train --nproc N`: data-parallel training on one machine without torchrun (the
// equivalent of `torchrun --standalone --nproc_per_node N`).
#pragma once

#include <string>
#include <vector>

namespace vitnas {

// Runs N copies of argv (argv[0]: the executable's path, e.g. current_executable()) with
// RANK=LOCAL_RANK=i, WORLD_SIZE=N, MASTER_ADDR=127.0.0.1 and MASTER_PORT=a free TCP port, each
// inheriting the rest of this environment, stdin/stdout/stderr and the signal mask; waits for
// all. When one exits non-zero or by a signal, the others get SIGTERM (SIGKILL 30 s later) and
// that first exit code is returned (128 + signal for a signal); 0 when all succeed. SIGINT,
// SIGTERM or SIGHUP sent to this process while it waits are passed on to the children and end
// it with 128 + that signal (reliably when the caller has no other threads, as at the start of
// `vitnas train`). InputError: nproc < 1, empty argv, argv[0] cannot be run.
int launch_local_processes(int nproc, const std::vector<std::string>& argv);

// In a process the launcher started (VITNAS_LAUNCHER_PID set): asks the kernel to SIGKILL this
// process when the launcher dies (PR_SET_PDEATHSIG), and exits at once if it already has, so
// that kill -9 of the launcher leaves no rank training on its own. A no-op otherwise.
void die_with_launcher();

// The running executable's path (readlink /proc/self/exe).
std::string current_executable();

}  // namespace vitnas
