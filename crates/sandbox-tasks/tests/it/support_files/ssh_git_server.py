"""A minimal SSH git server for tests: public-key auth only, runs
git-upload-pack / git-receive-pack on repositories below ROOT.

usage: ssh_git_server.py PORT ROOT HOST_KEY AUTHORIZED_KEYS
Prints "ready" once listening; runs until killed."""
import asyncio
import os
import shlex
import sys

import asyncssh

PORT, ROOT, HOST_KEY, AUTHORIZED = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


async def handle(process):
    argv = shlex.split(process.command or "")
    if len(argv) != 2 or argv[0] not in ("git-upload-pack", "git-receive-pack"):
        process.stderr.write(b"only git-upload-pack and git-receive-pack are served\n")
        process.exit(1)
        return
    path = os.path.normpath(os.path.join(ROOT, argv[1].lstrip("/")))
    if not path.startswith(ROOT):
        process.exit(1)
        return
    git = await asyncio.create_subprocess_exec(
        argv[0], path,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    await process.redirect(stdin=git.stdin, stdout=git.stdout, stderr=git.stderr)
    process.exit(await git.wait())
    await process.wait_closed()


async def main():
    await asyncssh.create_server(
        asyncssh.SSHServer, "127.0.0.1", PORT,
        server_host_keys=[HOST_KEY], authorized_client_keys=AUTHORIZED,
        process_factory=handle, encoding=None, allow_scp=False,
    )
    print("ready", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
