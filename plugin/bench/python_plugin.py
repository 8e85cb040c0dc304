# The benchmark's peer: an executor plugin of the shape Argo's docs teach
# (http.server, token check, {} for other templates), doing check-params'
# core offline work: validate pr_number, derive the sandbox's names.
# Usage: python_plugin.py PORT TOKEN_FILE
import json, re, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

with open(sys.argv[2]) as f:
    token = f.read().strip()

class Plugin(BaseHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would dominate the run
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.reply(403, {"error": "forbidden"})
        if self.path != "/api/v1/template.execute":
            return self.reply(404, {})
        args = json.loads(self.rfile.read(int(self.headers.get("Content-Length"))))
        spec = (args["template"].get("plugin") or {}).get("sandbox")
        if spec is None:
            return self.reply(200, {})
        pr = str(spec.get("params", {}).get("pr_number", ""))
        if spec.get("task") != "check-params" or not re.fullmatch(r"[1-9][0-9]{0,8}", pr):
            return self.reply(200, {"node": {"phase": "Failed", "message": "invalid pr_number"}})
        env = "sbx-pr-" + pr
        names = {"environment": env, "namespace": "apps-" + env, "branch": env, "database_name": env.replace("-", "_")}
        outputs = [{"name": k, "value": v} for k, v in names.items()]
        self.reply(200, {"node": {"phase": "Succeeded", "outputs": {"parameters": outputs}}})

HTTPServer(("127.0.0.1", int(sys.argv[1])), Plugin).serve_forever()
