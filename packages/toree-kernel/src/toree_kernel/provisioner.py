"""``toree-warm-pool``: the jupyter_client kernel provisioner that starts kernels from a warm pool.

A kernelspec names it (``toree install --warm-pool=N`` writes ``metadata.kernel_provisioner``), so it
works wherever jupyter_client starts kernels: Jupyter Server (JupyterLab, Notebook), the Kernel Gateway,
nbclient/papermill, a plain ``KernelManager``. Everything is jupyter_client's ``LocalProvisioner`` except
the launch: when the pool (``pool.py``) has a kernel for this command and environment, that kernel is
adopted instead of a new process being started; otherwise the kernel starts cold, as without a pool.
Either way the pool fills up (again) in the background. Restarts adopt a fresh pooled kernel too.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Integer

from . import pool

# Popen options a pooled kernel already has (its own session, stdio); any other one: start cold.
_ADOPTABLE = {"env", "cwd"}


class WarmPoolProvisioner(LocalProvisioner):
    """``LocalProvisioner`` that adopts a pooled kernel when it can."""

    pool_size = Integer(0, config=True, help="Kernels kept warm for this command and environment (0: no pool).")

    _channel: socket.socket | None = None  # the adopted kernel's socket pair: it lives while this is open

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        env = dict(kwargs.get("env") or os.environ)
        cwd = kwargs.get("cwd")
        cwd = str(cwd) if cwd is not None else os.getcwd()
        connection_file = self.parent.connection_file if self.parent is not None else None
        if self.pool_size <= 0 or not connection_file:
            return await super().launch_kernel(cmd, **kwargs)
        warm = pool.pool_for(pool.command_template(cmd, connection_file), env, cwd, self.pool_size)
        extra = set(LocalProvisioner._scrub_kwargs(kwargs)) - _ADOPTABLE
        member = None if extra else warm.take()
        if member is not None:
            try:
                member.adopt(connection_file, cwd, {k: v for k, v in env.items() if pool.per_launch(k)})
            except OSError:  # it died just now
                member.discard()
                member = None
        if member is None:
            self.log.info("no pooled Toree kernel ready to adopt: starting one cold")
            return await super().launch_kernel(cmd, **kwargs)
        self.log.info("adopted pooled Toree kernel %d", member.process.pid)
        self._close_channel()
        self._channel = member.channel
        self.process = member.process
        self.pid = member.process.pid
        self.pgid = os.getpgid(member.process.pid) if hasattr(os, "getpgid") else None
        self.cwd = cwd
        return self.connection_info

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        self._close_channel()  # the kernel has exited (or is killed): nothing is left to hold

    def _close_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()


def fill_pool(
    kernel_name: str,
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    kernel_spec_manager: Any = None,
    output: Any = None,
) -> pool.WarmPool | None:
    """Start filling the warm pool of ``kernel_name`` now (its kernelspec's ``pool_size``), before the
    first kernel is asked for: by default the first launch is the one that makes the pool, and it starts
    cold. For a process that will start kernels with jupyter_client (``KernelManager``) and the same
    ``env``/``cwd`` (``output``: where the pooled kernels write); None when the spec has no pool. Its command and environment come from jupyter_client
    itself (a launch prepared, then dropped), so they are the ones its launches will have."""
    from jupyter_client.manager import KernelManager

    options: dict[str, Any] = {"kernel_name": kernel_name}
    if kernel_spec_manager is not None:
        options["kernel_spec_manager"] = kernel_spec_manager
    manager = KernelManager(**options)
    cmd, kwargs = manager.pre_start_kernel(env=dict(os.environ if env is None else env), cwd=cwd or os.getcwd())
    try:
        provisioner = manager.provisioner
        if not isinstance(provisioner, WarmPoolProvisioner) or provisioner.pool_size <= 0:
            return None
        template = pool.command_template(cmd, manager.connection_file)
        where = str(kwargs.get("cwd") or os.getcwd())
        return pool.pool_for(template, dict(kwargs["env"]), where, provisioner.pool_size, output)
    finally:
        manager.cleanup_connection_file()
        manager.cleanup_resources()
