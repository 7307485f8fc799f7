#!/usr/bin/env python3
"""Generates the parser benchmark corpus: realistic Dockerfiles, deterministic.

Every run with the same --seed and --count writes byte-identical files, so
benchmark figures from different machines and commits compare. The files
resemble real-world ones: multi-stage builds for several ecosystems, long RUN
chains with continuations, apt-get/apk lines, ENV/LABEL/ARG, COPY and RUN
with flags, heredocs, exec-form CMD/ENTRYPOINT, HEALTHCHECK, comments, some
`# syntax=` directives, a few backtick-escape (Windows-style) files, CRLF
line endings and a few large files.

Usage: gen-bench-corpus.py OUT_DIR [--count N] [--seed S]
Writes OUT_DIR/NNNNN.Dockerfile (old *.Dockerfile files there are removed)
and prints "files bytes".
"""
import argparse
import os
import random

BASES = {
    "python": ["python:3.12-slim", "python:3.11-bookworm", "python:3.10-alpine"],
    "node": ["node:20-alpine", "node:18-bullseye-slim", "node:22"],
    "go": ["golang:1.22", "golang:1.21-alpine", "golang:1.23-bookworm"],
    "rust": ["rust:1.77", "rust:1.80-slim-bookworm", "rust:alpine"],
    "java": ["eclipse-temurin:21-jdk", "maven:3.9-eclipse-temurin-17", "gradle:8-jdk17"],
    "debian": ["debian:bookworm-slim", "ubuntu:22.04", "ubuntu:24.04", "debian:12"],
    "alpine": ["alpine:3.19", "alpine:3.20", "alpine:latest"],
}
RUNTIMES = [
    "gcr.io/distroless/static-debian12",
    "gcr.io/distroless/cc-debian12:nonroot",
    "debian:bookworm-slim",
    "alpine:3.19",
    "scratch",
    "eclipse-temurin:21-jre",
    "nginx:1.25-alpine",
]
APT_PACKAGES = (
    "ca-certificates curl wget git gnupg lsb-release build-essential pkg-config "
    "libssl-dev libffi-dev libpq-dev libxml2-dev libxslt1-dev zlib1g-dev "
    "libjpeg-dev libpng-dev unzip zip jq vim-tiny less procps tini openssh-client "
    "python3 python3-pip python3-venv locales tzdata gettext-base rsync sudo "
    "iproute2 iputils-ping netcat-openbsd dnsutils xz-utils bzip2 file make cmake "
    "ninja-build clang llvm libclang-dev protobuf-compiler libsqlite3-dev "
    "default-libmysqlclient-dev fonts-dejavu-core fontconfig imagemagick ffmpeg"
).split()
APK_PACKAGES = (
    "ca-certificates curl git bash tini su-exec tzdata openssl jq make gcc "
    "musl-dev linux-headers libffi-dev openssl-dev postgresql-dev sqlite "
    "python3 py3-pip nodejs npm ripgrep coreutils findutils"
).split()
PIP_PACKAGES = (
    "flask gunicorn django psycopg2-binary requests celery redis uvicorn "
    "fastapi pydantic sqlalchemy alembic boto3 numpy pandas pytest"
).split()
WORDS = (
    "api web worker gateway auth billing search indexer scheduler ingest "
    "notifier frontend backend metrics exporter proxy cache queue store"
).split()


def continued(rng, first, parts, indent="    ", esc="\\"):
    """`first` then `parts`, one per continuation line."""
    lines = [first] + [indent + p for p in parts]
    return (" " + esc + "\n").join(lines) + "\n"


def apt_run(rng, esc):
    pkgs = sorted(rng.sample(APT_PACKAGES, rng.randint(4, 24)))
    parts = ["apt-get update"]
    head = "&& apt-get install -y --no-install-recommends"
    if rng.random() < 0.5:
        parts.append(head + " " + " ".join(pkgs))
    else:
        parts.append(head)
        parts.extend("    " + p for p in pkgs)
    if rng.random() < 0.4:
        parts.append("&& curl -fsSL https://example.com/key.gpg | gpg --dearmor -o /usr/share/keyrings/x.gpg")
    parts.append("&& apt-get clean")
    parts.append("&& rm -rf /var/lib/apt/lists/*")
    flags = ""
    if rng.random() < 0.3:
        flags = ("--mount=type=cache,target=/var/cache/apt,sharing=locked "
                 "--mount=type=cache,target=/var/lib/apt,sharing=locked ")
    if rng.random() < 0.3:
        return continued(rng, "RUN " + flags + "set -eux;", parts, esc=esc)
    return continued(rng, "RUN " + flags + parts[0], parts[1:], esc=esc)


def apk_run(rng, esc):
    pkgs = sorted(rng.sample(APK_PACKAGES, rng.randint(3, 12)))
    if rng.random() < 0.5:
        return "RUN apk add --no-cache " + " ".join(pkgs) + "\n"
    return continued(rng, "RUN apk add --no-cache", pkgs, esc=esc)


def env_block(rng, esc):
    pairs = [
        ("LANG", "C.UTF-8"), ("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONUNBUFFERED", "1"),
        ("NODE_ENV", "production"), ("PATH", "/opt/venv/bin:$PATH"),
        ("APP_HOME", "/srv/app"), ("TZ", "Etc/UTC"), ("CGO_ENABLED", "0"),
        ("JAVA_OPTS", '"-Xms256m -Xmx1g -XX:+UseG1GC"'), ("PORT", "8080"),
        ("PIP_NO_CACHE_DIR", "off"), ("GOFLAGS", "-mod=readonly"),
    ]
    chosen = rng.sample(pairs, rng.randint(1, 6))
    if rng.random() < 0.15:
        k, v = chosen[0]
        return "ENV %s %s\n" % (k, v.strip('"'))
    if len(chosen) > 2 and rng.random() < 0.6:
        return continued(rng, "ENV " + "%s=%s" % chosen[0], ["%s=%s" % kv for kv in chosen[1:]], esc=esc)
    return "ENV " + " ".join("%s=%s" % kv for kv in chosen) + "\n"


def label_block(rng, esc, name):
    labels = [
        ("org.opencontainers.image.title", '"%s"' % name),
        ("org.opencontainers.image.description", '"The %s service, built for production"' % name),
        ("org.opencontainers.image.source", '"https://github.com/example/%s"' % name),
        ("org.opencontainers.image.licenses", '"Apache-2.0"'),
        ("org.opencontainers.image.version", "${VERSION}"),
        ("org.opencontainers.image.revision", "${GIT_SHA}"),
        ("maintainer", '"Platform Team <platform@example.com>"'),
    ]
    chosen = labels[: rng.randint(2, len(labels))]
    return continued(rng, "LABEL " + "%s=%s" % chosen[0], ["%s=%s" % kv for kv in chosen[1:]], esc=esc)


def heredoc_run(rng):
    body = [
        "set -eux",
        "groupadd --system --gid 10001 app",
        "useradd --system --uid 10001 --gid app --home /srv/app --shell /sbin/nologin app",
        "mkdir -p /srv/app/data /srv/app/logs",
        "chown -R app:app /srv/app",
    ]
    if rng.random() < 0.5:
        body.append('echo "built at $(date -u +%Y-%m-%dT%H:%M:%SZ)" > /srv/app/BUILD')
    name = rng.choice(["EOF", "EOT", "SCRIPT"])
    if rng.random() < 0.3:
        return "RUN <<-%s\n%s\n%s\n" % (name, "\n".join("\t" + b for b in body), name)
    return "RUN <<%s\n%s\n%s\n" % (name, "\n".join(body), name)


def heredoc_copy(rng):
    name = rng.choice(['"EOF"', "EOF", "'CONF'"])
    bare = name.strip("'\"")
    conf = [
        "server {",
        "    listen 8080;",
        "    server_name _;",
        "    root /usr/share/nginx/html;",
        "    location / { try_files $uri $uri/ /index.html; }",
        "    location /healthz { return 200 'ok'; }",
        "}",
    ]
    return "COPY <<%s /etc/nginx/conf.d/default.conf\n%s\n%s\n" % (name, "\n".join(conf), bare)


def healthcheck(rng):
    port = rng.choice([80, 3000, 5000, 8000, 8080, 9090])
    if rng.random() < 0.5:
        return ('HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 '
                'CMD curl -fsS http://localhost:%d/healthz || exit 1\n' % port)
    return 'HEALTHCHECK --interval=1m CMD ["wget", "-qO-", "http://127.0.0.1:%d/health"]\n' % port


def comment(rng):
    return "# " + rng.choice([
        "Install system dependencies",
        "Build the application in a separate stage to keep the final image small",
        "Copy only the dependency manifests first to make the best use of the layer cache",
        "Run as an unprivileged user",
        "TODO: pin the base image by digest",
        "Expose the HTTP port",
    ]) + "\n"


def build_stage(rng, kind, esc, name):
    """The build stage of a multi-stage file."""
    out = []
    base = rng.choice(BASES[kind])
    if rng.random() < 0.3:
        out.append("FROM --platform=$BUILDPLATFORM %s AS build\n" % base)
    else:
        out.append("FROM %s AS build\n" % base)
    if rng.random() < 0.5:
        out.append("ARG TARGETOS\nARG TARGETARCH\n")
    out.append("WORKDIR /src\n")
    if kind == "go":
        out.append("COPY go.mod go.sum ./\n")
        out.append("RUN --mount=type=cache,target=/go/pkg/mod go mod download\n")
        out.append("COPY . .\n")
        out.append(continued(rng, "RUN --mount=type=cache,target=/go/pkg/mod "
                             "--mount=type=cache,target=/root/.cache/go-build",
                             ["CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH",
                              "go build -trimpath -ldflags=\"-s -w -X main.version=${VERSION}\"",
                              "-o /out/%s ./cmd/%s" % (name, name)], esc=esc))
    elif kind == "rust":
        out.append("COPY Cargo.toml Cargo.lock ./\n")
        out.append("COPY src ./src\n")
        out.append(continued(rng, "RUN --mount=type=cache,target=/usr/local/cargo/registry",
                             ["--mount=type=cache,target=/src/target",
                              "cargo build --release --locked",
                              "&& cp target/release/%s /out/%s" % (name, name)], esc=esc))
    elif kind == "java":
        out.append("COPY pom.xml .\n")
        out.append("RUN --mount=type=cache,target=/root/.m2 mvn -B dependency:go-offline\n")
        out.append("COPY src ./src\n")
        out.append("RUN --mount=type=cache,target=/root/.m2 mvn -B -DskipTests package "
                   "&& cp target/*.jar /out/app.jar\n")
    elif kind == "node":
        out.append("COPY package.json package-lock.json ./\n")
        out.append("RUN --mount=type=cache,target=/root/.npm npm ci\n")
        out.append("COPY . .\n")
        out.append("RUN npm run build && npm prune --omit=dev\n")
    else:
        out.append("COPY requirements.txt .\n")
        out.append(continued(rng, "RUN python -m venv /opt/venv", [
            "&& /opt/venv/bin/pip install --upgrade pip wheel",
            "&& /opt/venv/bin/pip install -r requirements.txt " +
            " ".join(sorted(rng.sample(PIP_PACKAGES, rng.randint(1, 5))))], esc=esc))
        out.append("COPY . .\n")
    return out


def final_stage(rng, kind, esc, name):
    out = []
    runtime = rng.choice(RUNTIMES)
    out.append("FROM %s AS runtime\n" % runtime)
    if runtime.startswith(("debian", "eclipse")):
        out.append(apt_run(rng, esc))
    elif runtime.startswith("alpine"):
        out.append(apk_run(rng, esc))
    out.append(label_block(rng, esc, name))
    if rng.random() < 0.6:
        out.append(env_block(rng, esc))
    out.append("WORKDIR /srv/app\n")
    src = {"go": "/out/" + name, "rust": "/out/" + name, "java": "/out/app.jar"}.get(kind, "/src")
    flags = rng.choice(["--from=build ", "--from=build --chown=10001:10001 ",
                        "--link --from=build ", "--from=build --chmod=0755 "])
    out.append("COPY %s%s /srv/app/\n" % (flags, src))
    if rng.random() < 0.3:
        out.append("COPY --chown=app:app config/ /srv/app/config/\n")
    if not runtime.startswith(("scratch", "gcr.io")) and rng.random() < 0.4:
        out.append(heredoc_run(rng))
    if runtime.startswith("nginx") and rng.random() < 0.7:
        out.append(heredoc_copy(rng))
    out.append("EXPOSE %s\n" % " ".join(str(p) for p in rng.sample([80, 443, 8080, 8443, 9090, 9100], rng.randint(1, 3))))
    out.append("USER %s\n" % rng.choice(["10001", "app", "nonroot:nonroot", "65532:65532"]))
    if rng.random() < 0.5:
        out.append(healthcheck(rng))
    if rng.random() < 0.3:
        out.append('STOPSIGNAL SIGTERM\n')
    if rng.random() < 0.3:
        out.append("VOLUME [\"/srv/app/data\"]\n")
    exe = {"java": '"java", "-jar", "/srv/app/app.jar"', "python": '"gunicorn", "-b", "0.0.0.0:8000", "app:app"',
           "node": '"node", "dist/server.js"'}.get(kind, '"/srv/app/%s"' % name)
    if rng.random() < 0.5:
        out.append('ENTRYPOINT ["/usr/bin/tini", "--", %s]\n' % exe)
        out.append('CMD ["--config", "/srv/app/config/app.yaml"]\n')
    else:
        out.append("CMD [%s]\n" % exe)
    return out


def single_stage(rng, kind, esc, name):
    """A one-stage file: a base image with tools installed."""
    out = []
    base = rng.choice(BASES["debian" if kind == "debian" else "alpine"])
    out.append("FROM %s\n" % base)
    out.append("ARG VERSION=1.%d.%d\n" % (rng.randint(0, 20), rng.randint(0, 9)))
    if rng.random() < 0.4:
        out.append("ARG DEBIAN_FRONTEND=noninteractive\n")
    out.append(label_block(rng, esc, name))
    for _ in range(rng.randint(1, 3)):
        out.append(comment(rng))
        out.append(apt_run(rng, esc) if kind == "debian" else apk_run(rng, esc))
    out.append(env_block(rng, esc))
    out.append("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n" if kind == "debian"
               else "SHELL [\"/bin/sh\", \"-eo\", \"pipefail\", \"-c\"]\n")
    out.append(continued(rng, "RUN curl -fsSL https://example.com/releases/v${VERSION}/tool-linux-amd64.tar.gz -o /tmp/tool.tgz", [
        "&& echo \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  /tmp/tool.tgz\" | sha256sum -c -",
        "&& tar -xzf /tmp/tool.tgz -C /usr/local/bin",
        "&& rm -f /tmp/tool.tgz",
        "&& tool --version"], esc=esc))
    out.append("COPY --chmod=0755 docker-entrypoint.sh /usr/local/bin/\n")
    out.append("COPY . /workspace\n")
    out.append("WORKDIR /workspace\n")
    if rng.random() < 0.2:
        out.append("ONBUILD COPY . /workspace\nONBUILD RUN make deps\n")
    out.append('ENTRYPOINT ["docker-entrypoint.sh"]\n')
    out.append("CMD bash\n")
    return out


def long_chain(rng, esc):
    """A large RUN with dozens of continuation lines (some files are big)."""
    steps = []
    for i in range(rng.randint(40, 400)):
        steps.append(rng.choice([
            "&& echo \"step %d\"" % i,
            "&& mkdir -p /opt/%s/%d" % (rng.choice(WORDS), i),
            "&& ln -sf /opt/%s/bin/%s /usr/local/bin/%s" % (rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)),
            "&& sed -i 's/^#\\(%s\\)/\\1/' /etc/%s.conf" % (rng.choice(WORDS), rng.choice(WORDS)),
            "&& find /usr/share/doc -depth -type f ! -name copyright -delete",
        ]))
    return continued(rng, "RUN set -eux", steps, esc=esc)


def dockerfile(rng, index):
    kind = rng.choice(["python", "node", "go", "rust", "java", "debian", "alpine"])
    name = rng.choice(WORDS) + "-" + rng.choice(WORDS)
    windows = rng.random() < 0.03
    esc = "`" if windows else "\\"
    out = []
    if windows:
        out.append("# escape=`\n")
    elif rng.random() < 0.4:
        out.append("# syntax=docker/dockerfile:1\n")
    if rng.random() < 0.5:
        out.append("# %s: container image for the %s service\n\n" % (name, name))
    out.append("ARG VERSION=%d.%d.%d\n" % (rng.randint(0, 3), rng.randint(0, 30), rng.randint(0, 9)))
    if rng.random() < 0.5:
        out.append("ARG GIT_SHA\n")
    if kind in ("debian", "alpine"):
        out.extend(single_stage(rng, kind, esc, name))
    else:
        out.extend(build_stage(rng, kind, esc, name))
        out.append("\n")
        if rng.random() < 0.3:
            out.append("FROM build AS test\nRUN make test\n\n")
        out.extend(final_stage(rng, kind, esc, name))
    if index % 97 == 0:
        out.insert(len(out) - 1, long_chain(rng, esc))
    text = "".join(out)
    if rng.random() < 0.05:
        text = text.replace("\n", "\r\n")
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=20240501)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for old in os.listdir(args.out):
        if old.endswith(".Dockerfile"):
            os.remove(os.path.join(args.out, old))
    rng = random.Random(args.seed)
    total = 0
    for i in range(args.count):
        data = dockerfile(rng, i).encode("utf-8")
        total += len(data)
        with open(os.path.join(args.out, "%05d.Dockerfile" % i), "wb") as f:
            f.write(data)
    print(args.count, total)


if __name__ == "__main__":
    main()
