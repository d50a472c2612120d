"""`start_thread`: a second thread in a program's own task, as a pthread would be: a new
thread object from the kernel factory, bound to the task at the next free UTCB slot,
paged by the program's region map (a harness task's: by its pager), started at an async function's code address and run
through the program's scheduler (priority 2 unless told, as L4Re's main thread; on any
CPU of the scheduler unless pinned to one)."""
from ..code import entry
from ..errors import check
from ..l4sys import (
    L4_BASE_PAGER_CAP, L4_BASE_TASK_CAP, l4_error, l4_factory_create_thread, l4_sched_cpu_set, l4_sched_param,
    l4_scheduler_run_thread, l4_thread_control_bind, l4_thread_control_commit,
    l4_thread_control_exc_handler, l4_thread_control_pager, l4_thread_control_start,
    l4_thread_ex_regs,
)


async def start_thread(env, fn, prio=2, cpu=None):
    """Start `fn` (an async function of no arguments) in a new thread, on CPU `cpu` if
    given: its selector. The caller keeps `fn` alive (code addresses are weak)."""
    utcb = env.utcb_alloc()
    thread = env.cap_alloc()
    check(l4_error(await l4_factory_create_thread(env.factory, thread)), "creating a thread")
    rm = getattr(env, "rm", None)             # an L4Re program's region map
    pager = rm.cap if rm is not None else L4_BASE_PAGER_CAP
    l4_thread_control_start()
    l4_thread_control_pager(pager)
    l4_thread_control_exc_handler(pager)
    l4_thread_control_bind(utcb, L4_BASE_TASK_CAP)
    check(l4_error(await l4_thread_control_commit(thread)), "binding the thread")
    check(l4_error(await l4_thread_ex_regs(thread, entry(fn), 0, 0)), "starting the thread")
    param = l4_sched_param(prio)
    if cpu is not None:
        param.affinity = l4_sched_cpu_set(cpu, 0, 1)
    check(l4_error(await l4_scheduler_run_thread(env.scheduler, thread, param)),
          "running the thread")
    return thread
