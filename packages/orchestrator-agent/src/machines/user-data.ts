import { stringify } from 'yaml';
import { assertRelease, assertTarget, machineName } from '../providers/tags';
import { BUILD_AGENT_UNIT } from './units';

/**
 * The cloud-init user-data (#cloud-config) of a build machine: its build-agent config and
 * per-machine credential (0600), the executable (downloaded and checked, or left to the SSH
 * bootstrap), the systemd unit, started; and, when configured, a GitLab runner registered with
 * the pipeline's tags that unregisters itself when the machine shuts down. Pure: text in, text out.
 */
export interface UserDataInput {
  release: string;
  target: string;
  /** Credential file content (opaque), written to CREDENTIAL_PATH with mode 0600. */
  credential: string;
  /** Settings for /etc/pkgfleet/build-agent.json beyond the defaults. */
  buildAgentConfig?: Record<string, unknown>;
  /** Where to download build-agent-linux-{arch}.xz; undefined = the SSH bootstrap uploads it. */
  executable?: { url: string; sha256: Record<string, string> } | undefined;
  gitlab?: { url: string; token: string; tags: string[]; executor: string } | undefined;
}

export const CONFIG_PATH = '/etc/pkgfleet/build-agent.json';
export const CREDENTIAL_PATH = '/etc/pkgfleet/build-agent.credential';
export const EXECUTABLE_PATH = '/usr/local/bin/build-agent';
export const UNIT_NAME = 'build-agent.service';
const LIB = '/usr/local/lib/pkgfleet';
const RUNNER_UNIT = 'pkgfleet-gitlab-runner.service';
const RUNNER_TOKEN_PATH = '/etc/pkgfleet/gitlab-runner.token';
const RUNNER_CREDENTIAL_PATH = '/etc/pkgfleet/gitlab-runner.credential';
/** Executable arch names (see the build: build-agent-linux-x64, -arm64) by `uname -m`. */
const ARCHES: Record<string, string> = { x86_64: 'x64', aarch64: 'arm64' };

/** Single-quote for POSIX sh. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function installScript(exe: { url: string; sha256: Record<string, string> }): string {
  const cases = Object.entries(ARCHES)
    .map(([machine, arch]) => {
      const sum = exe.sha256[arch];
      return sum ? `  ${machine}) arch=${arch}; sum=${shQuote(sum)} ;;` : `  ${machine}) echo "no SHA-256 configured for build-agent-linux-${arch} (buildAgentSha256.${arch})" >&2; exit 1 ;;`;
    })
    .join('\n');
  return `#!/bin/sh
# Download build-agent for this machine's CPU, check its SHA-256, install it in one rename.
set -eu
case "$(uname -m)" in
${cases}
  *) echo "unsupported CPU $(uname -m) for build-agent" >&2; exit 1 ;;
esac
url=$(printf '%s' ${shQuote(exe.url)} | sed "s/{arch}/$arch/g")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl --fail --silent --show-error --location --retry 5 --retry-connrefused --output "$tmp/build-agent.xz" "$url"
echo "$sum  $tmp/build-agent.xz" | sha256sum -c -
xz --decompress --stdout "$tmp/build-agent.xz" > "$tmp/build-agent"
install -m 0755 "$tmp/build-agent" ${EXECUTABLE_PATH}.new
mv -f ${EXECUTABLE_PATH}.new ${EXECUTABLE_PATH}
`;
}

function bootstrapScript(input: UserDataInput): string {
  const lines = ['#!/bin/sh', '# pkgfleet build machine bootstrap (run once by cloud-init).', 'set -eu', 'systemctl daemon-reload'];
  if (input.executable) lines.push(`${LIB}/install-build-agent`);
  lines.push(`systemctl enable ${UNIT_NAME}`);
  lines.push(
    `# Without a download URL the orchestrator uploads the executable over SSH and starts the unit.`,
    `if [ -x ${EXECUTABLE_PATH} ]; then systemctl start ${UNIT_NAME}; else echo "${EXECUTABLE_PATH} not installed yet: waiting for the SSH bootstrap"; fi`,
  );
  if (input.gitlab) lines.push(`systemctl enable --now ${RUNNER_UNIT}`);
  return lines.join('\n') + '\n';
}

function runnerScript(release: string, target: string, g: NonNullable<UserDataInput['gitlab']>): string {
  const tags = g.tags.map((t) => t.replaceAll('{target}', target).replaceAll('{release}', release)).join(',');
  return `#!/bin/sh
# Register this build machine as a GitLab runner. The token goes by environment, never argv.
set -eu
command -v gitlab-runner >/dev/null || { echo "gitlab-runner is not installed in this image" >&2; exit 1; }
# The runner's jobs call \`build-agent push\`: they get their own copy of the credential.
if id gitlab-runner >/dev/null 2>&1; then
  install -m 0600 -o gitlab-runner -g gitlab-runner ${CREDENTIAL_PATH} ${RUNNER_CREDENTIAL_PATH}
fi
token=$(cat ${RUNNER_TOKEN_PATH})
case "$token" in
  glrt-*) export CI_SERVER_TOKEN="$token" ;;
  *) export REGISTRATION_TOKEN="$token" RUNNER_TAG_LIST=${shQuote(tags)} ;;
esac
export CI_SERVER_URL=${shQuote(g.url)} RUNNER_NAME=${shQuote(machineName(release, target))} RUNNER_EXECUTOR=${shQuote(g.executor)}
exec gitlab-runner register --non-interactive --env PKGFLEET_CREDENTIAL=${RUNNER_CREDENTIAL_PATH} --env PKGFLEET_RELEASE=${shQuote(release)} --env PKGFLEET_TARGET=${shQuote(target)}
`;
}

function runnerUnit(release: string, target: string): string {
  return `[Unit]
Description=pkgfleet: GitLab runner registration of this build machine
Wants=network-online.target
After=network-online.target gitlab-runner.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${LIB}/gitlab-runner-register
# Stopped at shutdown while the network is still up: the runner leaves GitLab with the machine.
ExecStop=/usr/bin/env gitlab-runner unregister --name ${machineName(release, target)}

[Install]
WantedBy=multi-user.target
`;
}

export function renderUserData(input: UserDataInput): string {
  assertRelease(input.release);
  assertTarget(input.target);
  const file = (path: string, content: string, permissions: string) => ({ path, owner: 'root:root', permissions, content });
  const config = { comment: `pkgfleet build machine: release ${input.release}, target ${input.target} (written by cloud-init)`, ...input.buildAgentConfig };
  const files = [
    file(CONFIG_PATH, JSON.stringify(config, null, 2) + '\n', '0644'),
    file(CREDENTIAL_PATH, input.credential.endsWith('\n') ? input.credential : input.credential + '\n', '0600'),
    file(`/etc/systemd/system/${UNIT_NAME}`, BUILD_AGENT_UNIT, '0644'),
    file(`${LIB}/bootstrap`, bootstrapScript(input), '0755'),
  ];
  if (input.executable) files.push(file(`${LIB}/install-build-agent`, installScript(input.executable), '0755'));
  if (input.gitlab) {
    files.push(
      file(RUNNER_TOKEN_PATH, input.gitlab.token.trim() + '\n', '0600'),
      file(`${LIB}/gitlab-runner-register`, runnerScript(input.release, input.target, input.gitlab), '0755'),
      file(`/etc/systemd/system/${RUNNER_UNIT}`, runnerUnit(input.release, input.target), '0644'),
    );
  }
  const doc = {
    write_files: files,
    runcmd: [[`${LIB}/bootstrap`]],
  };
  return '#cloud-config\n' + stringify(doc, { blockQuote: 'literal', lineWidth: 0 });
}
