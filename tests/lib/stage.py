"""Staging a program that a test runs as another user where that user can reach it: the
Python twin of stage.sh (read its header). The build tree need not be reachable by other
users (a clone in /root, 0700 on Debian), and a copied program still names the build tree
in its RUNPATH, so its private libraries are copied too and found through LD_LIBRARY_PATH
(searched before RUNPATH). The directories above DIR must be searchable by that user.
"""
import os
import re
import shutil
import subprocess


def private_libraries(program):
    """The libraries `program` needs that ldd resolves outside the system's directories
    (/lib*, /usr, /opt). RuntimeError when one is not found at all."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    r = subprocess.run(["ldd", program], capture_output=True, text=True, env=env)
    if r.returncode != 0 and "not a dynamic executable" not in r.stdout + r.stderr:
        raise RuntimeError(f"ldd {program}: {r.stderr}")
    if "=> not found" in r.stdout:
        raise RuntimeError(f"{program} needs a library that is not found:\n{r.stdout}")
    libs = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>" and parts[2].startswith("/") and \
                not re.match(r"/(lib|usr/|opt/)", parts[2]):
            libs.append(parts[2])
    return libs


def stage_program(directory, program):
    """Copies `program` into DIRECTORY/bin and its private libraries into DIRECTORY/lib,
    readable by everyone; returns (the copy's path, the library directory) — run the copy
    with LD_LIBRARY_PATH set to the latter."""
    for d in (directory, os.path.join(directory, "bin"), os.path.join(directory, "lib")):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
    for lib in private_libraries(program):
        dst = os.path.join(directory, "lib", os.path.basename(lib))
        shutil.copy(lib, dst)
        os.chmod(dst, 0o644)
    copy = os.path.join(directory, "bin", os.path.basename(program))
    shutil.copy(program, copy)
    os.chmod(copy, 0o755)
    return copy, os.path.join(directory, "lib")


def stage_tree(source, destination):
    """Copies the directory tree `source` to `destination`, readable by everyone (the
    catalogues apppass-web loads); returns `destination`."""
    shutil.copytree(source, destination, dirs_exist_ok=True)
    os.chmod(destination, 0o755)
    for root, dirs, files in os.walk(destination):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    return destination
