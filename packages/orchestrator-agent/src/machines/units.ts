/** The build-agent systemd unit, byte for byte deploy/systemd/build-agent.service (a test checks). */
export const BUILD_AGENT_UNIT = `# pkgfleet build agent: registers this build machine with the orchestrator and heartbeats.
# Installed by the cloud-init user-data of \`orchestrator-agent machines user-data\`.
[Unit]
Description=pkgfleet build agent
Documentation=man:systemd.exec(5)
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart=/usr/local/bin/build-agent serve --config /etc/pkgfleet/build-agent.json --log-format json
# The per-machine credential stays root-only on disk; systemd hands the service a private copy.
LoadCredential=credential:/etc/pkgfleet/build-agent.credential
Environment=PKGFLEET_CREDENTIAL=%d/credential
DynamicUser=yes
StateDirectory=pkgfleet-build
StateDirectoryMode=0700
Restart=on-failure
RestartSec=5s
TimeoutStopSec=30s

# Hardening. No MemoryDenyWriteExecute: V8's JIT needs writable+executable pages.
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
UMask=0077

[Install]
WantedBy=multi-user.target
`;
