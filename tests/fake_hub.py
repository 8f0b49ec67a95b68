"""A Hugging Face Hub on 127.0.0.1, for huggingface_hub's real client (``HF_ENDPOINT`` or ``HfApi(endpoint=...)``).

It answers what creating, uploading to and downloading from a repo calls for,
with the Hub's status codes, ``X-Error-Code`` headers and JSON shapes:

- ``POST /api/repos/create``; ``POST /api/validate-yaml``;
- ``POST /api/{type}s/{repo}/preupload/{rev}``: every file is "regular" (a git
  blob sent in the commit itself), so no LFS or Xet storage is needed;
- ``POST /api/{type}s/{repo}/commit/{rev}``: the NDJSON commit, base64 contents;
- ``POST /api/{type}s/{repo}/paths-info/{rev}`` (the sizes ``HfApi.get_paths_info`` asks for);
- ``POST /api/spaces/{repo}/variables`` (a Space's environment variables, kept in ``Repo.variables``);
- ``GET /api/{type}s/{repo}[/revision/{rev}]`` (repo info with ``siblings``) and
  ``GET /api/{type}s/{repo}/tree/{rev}`` (what ``snapshot_download`` lists);
- ``HEAD``/``GET /[{type}s/]{repo}/resolve/{rev}/{path}`` with ``X-Repo-Commit``,
  ``ETag`` (the git blob id) and ``Content-Length``.

Writes need an ``Authorization`` header, as on the Hub.  Every commit is kept,
so a repo can be read at ``main`` or at any of its commit ids.
"""

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

REPO_TYPES = ("model", "dataset", "space")


def git_blob_id(data: bytes) -> str:
    """The id git (and the Hub's ETag of a regular file) gives a file's contents."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    sdk: str | None = None
    variables: dict[str, str] = field(default_factory=dict)  # a Space's environment variables
    commits: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)  # (commit id, files), oldest first

    @property
    def head(self) -> tuple[str, dict[str, bytes]]:
        return self.commits[-1]

    def files_at(self, revision: str) -> tuple[str, dict[str, bytes]] | None:
        if revision == "main":
            return self.head
        return next((commit for commit in self.commits if commit[0] == revision), None)


class FakeHub:
    """The server, in a thread; ``with FakeHub() as hub:`` serves at ``hub.url`` until the block ends."""

    def __init__(self):
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (HubHandler,), {"hub": self}))
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        """The files of a repo at a revision (KeyError if there is no such repo or revision)."""
        found = self.repos[repo_type, repo_id].files_at(revision)
        if found is None:
            raise KeyError(revision)
        return found[1]

    def commit_ids(self, repo_id: str, repo_type: str = "model") -> list[str]:
        return [commit_id for commit_id, _ in self.repos[repo_type, repo_id].commits]


class HubHandler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects of the Hub

    def log_message(self, *args):
        pass

    # routing

    def do_HEAD(self):
        self.route("HEAD")

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method: str) -> None:
        path = unquote(urlsplit(self.path).path)
        with self.hub.lock:
            self.hub.requests.append((method, path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/api/repos/create":
            return self.create_repo(json.loads(body))
        if method == "POST" and path == "/api/validate-yaml":
            return self.send_json({"errors": [], "warnings": []})
        if parts[0] == "api" and len(parts) >= 4 and parts[1].rstrip("s") in REPO_TYPES:
            repo_type, repo_id, rest = parts[1][:-1], "/".join(parts[2:4]), parts[4:]
            if method == "POST" and len(rest) == 2 and rest[0] == "preupload":
                return self.preupload(repo_type, repo_id, rest[1], json.loads(body))
            if method == "POST" and len(rest) == 2 and rest[0] == "commit":
                return self.commit(repo_type, repo_id, rest[1], body)
            if method == "POST" and len(rest) == 2 and rest[0] == "paths-info":
                return self.paths_info(repo_type, repo_id, rest[1], parse_qs(body.decode()).get("paths", []))
            if method == "POST" and rest == ["variables"] and repo_type == "space":
                return self.add_variable(repo_id, json.loads(body))
            if method == "GET" and (not rest or (len(rest) == 2 and rest[0] == "revision")):
                return self.repo_info(repo_type, repo_id, rest[1] if rest else "main")
            if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                return self.tree(repo_type, repo_id, rest[1])
        if method in ("HEAD", "GET"):
            repo_type = parts[0][:-1] if parts[0] in ("datasets", "spaces") else "model"
            parts = parts[1:] if repo_type != "model" else parts
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.resolve(repo_type, "/".join(parts[:2]), parts[3], "/".join(parts[4:]), method == "GET")
        self.fail(404, "EntryNotFound", f"no route for {method} {path}")

    # answers

    def send_json(self, value, status: int = 200) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, status: int, code: str | None, message: str) -> None:
        data = json.dumps({"error": message}).encode() if self.command != "HEAD" else b""
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self) -> bool:
        if self.headers.get("Authorization", "").startswith("Bearer "):
            return True
        self.fail(401, None, "Invalid username or password.")
        return False

    def find(self, repo_type: str, repo_id: str, revision: str) -> tuple[Repo, str, dict[str, bytes]] | None:
        repo = self.hub.repos.get((repo_type, repo_id))
        if repo is None:
            self.fail(401 if self.command != "POST" else 404, "RepoNotFound", f"Repository not found: {repo_id}")
            return None
        found = repo.files_at(revision)
        if found is None:
            self.fail(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo, *found

    def create_repo(self, payload: dict) -> None:
        if not self.authorized():
            return
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload['organization']}/{payload['name']}"
        if repo_type == "space" and not payload.get("sdk"):
            return self.fail(400, None, "a Space needs an sdk")
        url = f"{self.hub.url}/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"
        with self.hub.lock:
            if (repo_type, repo_id) in self.hub.repos:  # the Hub names the repo in this answer too
                return self.send_json({"error": "You already created this repo", "url": url}, 409)
            repo = Repo(repo_type, repo_id, payload.get("sdk"))
            initial = {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"}
            repo.commits.append((hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest(), initial))
            self.hub.repos[repo_type, repo_id] = repo
        self.send_json({"url": url, "name": repo_id})

    def preupload(self, repo_type: str, repo_id: str, revision: str, payload: dict) -> None:
        if not self.authorized() or not (found := self.find(repo_type, repo_id, revision)):
            return
        files = found[2]
        self.send_json({"files": [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
             "oid": git_blob_id(files[f["path"]]) if f["path"] in files else None}
            for f in payload["files"]
        ]})

    def commit(self, repo_type: str, repo_id: str, revision: str, body: bytes) -> None:
        if not self.authorized() or not (found := self.find(repo_type, repo_id, revision)):
            return
        repo, parent, files = found
        files = dict(files)
        summary = ""
        for line in body.splitlines():
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                summary = value["summary"]
            elif key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                files = {p: d for p, d in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
            else:  # lfsFile: this Hub said "regular" for every file, so none may come
                return self.fail(400, None, f"unexpected commit operation {key}")
        commit_id = hashlib.sha1(parent.encode() + summary.encode() + json.dumps(
            sorted((p, git_blob_id(d)) for p, d in files.items())).encode()).hexdigest()
        with self.hub.lock:
            repo.commits.append((commit_id, files))
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        self.send_json({"success": True, "commitOid": commit_id,
                        "commitUrl": f"{self.hub.url}/{prefix}{repo_id}/commit/{commit_id}"})

    def add_variable(self, repo_id: str, payload: dict) -> None:
        if not self.authorized() or not (found := self.find("space", repo_id, "main")):
            return
        variables = found[0].variables
        variables[payload["key"]] = payload["value"]
        self.send_json({key: {"value": value, "updatedAt": "2026-01-01T00:00:00.000Z"}
                        for key, value in variables.items()})

    def repo_info(self, repo_type: str, repo_id: str, revision: str) -> None:
        if not (found := self.find(repo_type, repo_id, revision)):
            return
        repo, commit_id, files = found
        info = {"id": repo_id, "author": repo_id.split("/")[0], "sha": commit_id, "private": False,
                "siblings": [{"rfilename": path} for path in sorted(files)]}
        if repo_type == "space":
            info["sdk"] = repo.sdk
        self.send_json(info)

    def paths_info(self, repo_type: str, repo_id: str, revision: str, paths: list[str]) -> None:
        """Each asked-for path that exists, with its size; the others are left out, as the Hub does."""
        if not (found := self.find(repo_type, repo_id, revision)):
            return
        files = found[2]
        self.send_json([{"type": "file", "path": path, "oid": git_blob_id(files[path]), "size": len(files[path])}
                        for path in paths if path in files])

    def tree(self, repo_type: str, repo_id: str, revision: str) -> None:
        if not (found := self.find(repo_type, repo_id, revision)):
            return
        files = found[2]
        folders = sorted({"/".join(path.split("/")[:i]) for path in files for i in range(1, path.count("/") + 1)})
        self.send_json([{"type": "directory", "path": folder, "oid": git_blob_id(folder.encode()), "size": 0}
                        for folder in folders]
                       + [{"type": "file", "path": path, "oid": git_blob_id(data), "size": len(data)}
                          for path, data in sorted(files.items())])

    def resolve(self, repo_type: str, repo_id: str, revision: str, filename: str, body: bool) -> None:
        if not (found := self.find(repo_type, repo_id, revision)):
            return
        _, commit_id, files = found
        if filename not in files:
            return self.fail(404, "EntryNotFound", f"{filename} does not exist in {repo_id}@{revision}")
        data = files[filename]
        self.send_response(200)
        self.send_header("X-Repo-Commit", commit_id)
        self.send_header("ETag", f'"{git_blob_id(data)}"')
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if body:
            self.wfile.write(data)
