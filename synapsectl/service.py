"""`synapsectl service install|uninstall|status|logs`: the login service from systemd/ and launchd/.

Renders the templates with this machine's real paths (virtualenv-aware), writes them to the
user's unit / agent directory, enables and starts them, and remembers what it created so that
uninstall removes exactly that. `--dry-run` prints the files and commands instead.
"""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from synapsed.paths import Paths, ensure_layout

LABEL = "com.mcp-synapse.synapsed"
TEMPLATES = Path(__file__).resolve().parent / "templates"  # shipped as package data
MANIFEST = "service-manifest.json"


class ServiceError(Exception):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class Plan:
    platform: str  # systemd | launchd
    files: dict[Path, str]
    enable: list[list[str]]
    disable: list[list[str]]
    main_unit: str
    notes: list[str] = field(default_factory=list)


def synapsed_path() -> str:
    candidate = Path(sys.executable).parent / "synapsed"  # the same virtualenv as this synapsectl
    if candidate.exists():
        return str(candidate)
    found = shutil.which("synapsed")
    if found is None:
        raise ServiceError("cannot find the synapsed executable", "install mcp-synapse (e.g. `make install`) first")
    return str(Path(found).resolve())


def _template(*parts: str) -> str:
    path = TEMPLATES.joinpath(*parts)
    if not path.exists():
        raise ServiceError(f"service template {path} is missing", "reinstall mcp-synapse: the package ships its templates")
    return path.read_text(encoding="utf-8")


def systemctl() -> list[str]:
    # SYNAPSE_SYSTEMCTL replaces the binary (tests use a recording stub where no user manager exists).
    return [*os.environ.get("SYNAPSE_SYSTEMCTL", "systemctl").split(), "--user"]


def launchctl() -> list[str]:
    return os.environ.get("SYNAPSE_LAUNCHCTL", "launchctl").split()


def unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def agent_dir() -> Path:
    return Path.home() / "Library" / "LaunchAgents"


def plan(paths: Paths, home: str | None, socket_activation: bool = False, platform: str | None = None) -> Plan:
    platform = platform or ("launchd" if sys.platform == "darwin" else "systemd")
    exe = synapsed_path()
    if platform == "launchd":
        env = f"        <key>SYNAPSE_HOME</key>\n        <string>{escape(home)}</string>" if home else ""
        text = (_template("launchd", f"{LABEL}.plist").replace("@SYNAPSED@", escape(exe))
                .replace("@LOGS@", escape(str(paths.log_dir))).replace("@ENVIRONMENT@", env))
        target = agent_dir() / f"{LABEL}.plist"
        domain = f"gui/{os.getuid()}"
        return Plan("launchd", {target: text},
                    enable=[[*launchctl(), "bootstrap", domain, str(target)], [*launchctl(), "enable", f"{domain}/{LABEL}"]],
                    disable=[[*launchctl(), "bootout", f"{domain}/{LABEL}"]], main_unit=LABEL)
    if home:
        environment = f"Environment=SYNAPSE_HOME={home}"
        readwrite = f"ReadWritePaths={home}"
    else:
        environment = ""
        readwrite = (f"ReadWritePaths={paths.config_dir} {paths.state_dir}\n"
                     "RuntimeDirectory=synapse\nRuntimeDirectoryMode=0700\nRuntimeDirectoryPreserve=yes")
    under_tmp = any(str(d).startswith(("/tmp/", "/var/tmp/")) for d in (paths.config_dir, paths.state_dir, paths.runtime_dir))
    # A private /tmp would hide a home or socket that lives in /tmp from everyone else.
    private_tmp = "# PrivateTmp is off: synapse's files live under /tmp" if under_tmp else "PrivateTmp=yes"
    service = (_template("systemd", "synapsed.service").replace("@SYNAPSED@", exe).replace("@PRIVATETMP@", private_tmp)
               .replace("@ENVIRONMENT@\n", environment + "\n" if environment else "").replace("@READWRITE@", readwrite))
    files = {unit_dir() / "synapsed.service": service}
    main = "synapsed.service"
    if socket_activation:
        files[unit_dir() / "synapsed.socket"] = _template("systemd", "synapsed.socket").replace("@SOCKET@", str(paths.socket))
        main = "synapsed.socket"
    units = [p.name for p in files]
    return Plan("systemd", files,
                enable=[[*systemctl(), "daemon-reload"], [*systemctl(), "enable", "--now", main]],
                disable=[[*systemctl(), "disable", "--now", *units], [*systemctl(), "daemon-reload"]], main_unit=main)


def _run(command: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return 127, f"{command[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, f"{' '.join(command)}: timed out"
    return done.returncode, (done.stdout + done.stderr).strip()


def user_manager_ok(platform: str) -> tuple[bool, str]:
    if platform == "launchd":
        return True, ""
    code, output = _run([*systemctl(), "show-environment"])
    return code == 0, output


def _no_manager_error(detail: str) -> ServiceError:
    return ServiceError(
        f"there is no systemd user instance here ({detail.splitlines()[0] if detail else 'systemctl --user failed'})",
        "containers and WSL without systemd have none: run `synapsed` in the foreground (or from your shell's "
        "startup), or use --dry-run to see the unit files",
    )


def install(paths: Paths, home: str | None, socket_activation: bool, dry_run: bool, platform: str | None = None) -> dict[str, Any]:
    p = plan(paths, home, socket_activation, platform)
    report: dict[str, Any] = {"platform": p.platform, "dry_run": dry_run, "unit": p.main_unit, "files": [], "commands": []}
    if dry_run:
        report["files"] = [{"path": str(path), "content": text, "action": "would write"} for path, text in p.files.items()]
        report["commands"] = [{"command": c, "ran": False} for c in p.enable]
        return report
    ok, detail = user_manager_ok(p.platform)
    if not ok:
        raise _no_manager_error(detail)
    ensure_layout(paths)  # ProtectSystem=strict: the writable paths must exist before the first start
    manifest = _load_manifest(paths)
    for path, text in p.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        previous = path.read_text(encoding="utf-8") if path.exists() else None
        action = "unchanged" if previous == text else ("updated" if previous is not None else "created")
        if action != "unchanged":
            path.write_text(text, encoding="utf-8")
            path.chmod(0o644)
        if previous is None or str(path) in manifest["files"]:
            manifest["files"][str(path)] = True  # ours to remove later
        report["files"].append({"path": str(path), "action": action})
    _save_manifest(paths, manifest)
    for command in ([[*launchctl(), "bootout", f"gui/{os.getuid()}/{LABEL}"]] if p.platform == "launchd" else []) + p.enable:
        code, output = _run(command)
        report["commands"].append({"command": command, "ran": True, "exit_code": code, "output": output})
        if code != 0 and "bootout" not in command:
            raise ServiceError(f"`{' '.join(command)}` failed: {output or code}", "see the output above; `synapsectl service status` shows the state")
    return report


def uninstall(paths: Paths, home: str | None, dry_run: bool, platform: str | None = None) -> dict[str, Any]:
    p = plan(paths, home, socket_activation=True, platform=platform)
    manifest = _load_manifest(paths)
    ours = [Path(f) for f in manifest["files"] if Path(f).exists()]
    report: dict[str, Any] = {"platform": p.platform, "dry_run": dry_run, "files": [], "commands": []}
    if dry_run:
        report["files"] = [{"path": str(f), "action": "would remove"} for f in ours]
        report["commands"] = [{"command": c, "ran": False} for c in p.disable]
        return report
    if ours:
        for command in p.disable:
            code, output = _run(command)
            report["commands"].append({"command": command, "ran": True, "exit_code": code, "output": output})
    for path in ours:
        path.unlink()
        report["files"].append({"path": str(path), "action": "removed"})
    manifest["files"] = {}
    _save_manifest(paths, manifest)
    if not ours:
        report["note"] = "nothing to remove: no files from `synapsectl service install` were found"
    return report


def status(paths: Paths, home: str | None, platform: str | None = None) -> dict[str, Any]:
    p = plan(paths, home, socket_activation=(unit_dir() / "synapsed.socket").exists(), platform=platform)
    installed = all(path.exists() for path in p.files)
    state: dict[str, Any] = {"platform": p.platform, "installed": installed, "files": [str(f) for f in p.files],
                             "enabled": None, "running": None}
    ok, detail = user_manager_ok(p.platform)
    state["manager"] = "available" if ok else f"unavailable: {detail.splitlines()[0] if detail else ''}"
    if ok and p.platform == "systemd":
        state["enabled"] = _run([*systemctl(), "is-enabled", p.main_unit])[1] or None
        state["running"] = _run([*systemctl(), "is-active", "synapsed.service"])[1] or None
    elif ok:
        code, _ = _run([*launchctl(), "print", f"gui/{os.getuid()}/{LABEL}"])
        state["enabled"] = state["running"] = "loaded" if code == 0 else "not loaded"
    return state


def validate_plist(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = plistlib.loads(text.encode())
    return loaded


def _manifest_path(paths: Paths) -> Path:
    return paths.state_dir / MANIFEST


def _load_manifest(paths: Paths) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(_manifest_path(paths).read_text())
        return manifest
    except (FileNotFoundError, ValueError):
        return {"files": {}}


def _save_manifest(paths: Paths, manifest: dict[str, Any]) -> None:
    paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _manifest_path(paths).write_text(json.dumps(manifest, indent=2))
    _manifest_path(paths).chmod(0o600)
