#compdef confsync

autoload -U is-at-least

_confsync() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_confsync_commands" \
"*::: :->confsync" \
&& ret=0
    case $state in
    (confsync)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:confsync-command-$line[1]:"
        case $line[1] in
            (agent)
_arguments "${_arguments_options[@]}" : \
'--root=[Serve DIR/{firmware,capdb,modules,config}; DIR/licenses stays untouched and DIR/.confsync holds the agent'\''s state]:DIR:_files' \
'--config=[Read name, paths, protection and more from this agent.toml]:FILE:_files' \
'--listen=[Address to listen on \[default\: 127.0.0.1\:7420\]]:ADDR:_default' \
'--name=[The server'\''s name in plans and history \[default\: the hostname\]]:NAME:_default' \
'--keep-generations=[How many applied generations to keep for rollback \[default\: 5\]]:N:_default' \
'--stall-timeout=[How long a source may stay silent in the middle of a transfer before it is given up on, with a message naming it (\`15s\`, \`1m\`) \[default\: 15s\]]:DURATION:_default' \
'--rescan-every=[How often the tree is scanned in full although the file watcher reported no change (\`30m\`, \`1h\`)\: the safety net for changes a watcher can miss \[default\: 1h\]]:DURATION:_default' \
'--metrics=[Serve Prometheus metrics at http\://ADDR/metrics (generations, drift, applies and refusals by kind, bytes, durations, hold) \[default ADDR\: 127.0.0.1\:9469\]]::ADDR:_default' \
'--tls-ca=[CA certificate (PEM) that issued the peers'\'' certificates (admins and other agents)]:FILE:_files' \
'--tls-cert=[This agent'\''s certificate (PEM), from \`confsync certs issue NAME --role agent\`]:FILE:_files' \
'--tls-key=[The private key of --tls-cert (PEM)]:FILE:_files' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--protected[Refuse every apply unless the client passes --allow-protected (for a primary)]' \
'--init[Create the root (or configured paths) and empty category folders when missing. Without it, a folder that does not exist stops the agent\: it is most often a typo]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(wizard)
_arguments "${_arguments_options[@]}" : \
'--confirm-within=[Commit-confirmed, as \`sync --confirm-within\`\: the destination rolls the generation back itself unless \`confsync confirm\` arrives within this long]:DURATION:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(diff)
_arguments "${_arguments_options[@]}" : \
'--from=[The source server\: a name from the server list, or host\:port (for \`diff\`, also a bundle file that \`confsync export\` wrote)]:SRC:_default' \
'--only=[Only these categories, comma separated (firmware, capdb, modules, config). Licenses are never synchronized]:CATS:_default' \
'--to=[The destination server\: a name from the server list, or host\:port]:DST:_default' \
'--max-delete=[Refuse plans deleting more than this percentage of a category'\''s entries (100 or 0\: no limit) \[default\: \$CONFSYNC_MAX_DELETE, else 25\]]:PERCENT:_default' \
'--two-way=[Synchronize both ways\: what changed on either server since their last two-way sync goes to the other. Alone, every category compared goes both ways; with a list (\`--two-way config\`), only those do and the others go one way, from --from]::CATS:_default' \
'--conflict=[Who wins a file changed on both servers\: newest (the more recent modification, clocks compared at the start), source (--from), destination (--to), or ask (the wizard asks per file). The losing version is kept in that server'\''s generation]:POLICY:_default' \
'--max-clock-skew=[Clocks further apart than this do not decide conflicts by time\: the plan refuses until they are set right or another --conflict policy decides]:DURATION:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--json[Print machine-readable JSON instead of text]' \
'--all[List every path, not only the first ones of each category]' \
'--keys[Also show what changes inside files of known formats\: key by key (TOML, JSON, INI), record by record (a capability database of JSON lines or CSV), and version order for a file holding a version]' \
'--allow-empty-source[Allow an empty source category to empty the destination'\''s]' \
'--allow-protected[Write to a server marked protected]' \
'--allow-unmergeable[Leave shared files that hold device-specific keys but cannot be merged (they do not parse) as they are, and apply the rest]' \
'--refuse-downgrade[Refuse to overwrite a file with an older copy (the source'\''s is older than the one the destination'\''s last sync brought, or than the destination'\''s own)]' \
'--refuse-local-edits[Refuse to overwrite or delete what was changed on the destination since its last sync (a hand edit), rather than only warn]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(sync)
_arguments "${_arguments_options[@]}" : \
'--from=[The source server\: a name from the server list, or host\:port (for \`diff\`, also a bundle file that \`confsync export\` wrote)]:SRC:_default' \
'--only=[Only these categories, comma separated (firmware, capdb, modules, config). Licenses are never synchronized]:CATS:_default' \
'--to=[Destination servers, comma separated\: names from the server list or host\:port]:DST[,DST...]:_default' \
'--plan=[Apply only if the plan is still exactly this one\: the digest \`diff\` shows ("Plan 1a2b3c4d5e6f", 12 or more hex digits) or the whole one \`diff --json\` prints]:DIGEST:_default' \
'--confirm-within=[Commit-confirmed\: each destination rolls the generation back itself unless \`confsync confirm --server DST\` arrives within this long (\`10m\`); the deadline survives a restart of the destination, and every other apply there is refused until it is confirmed or rolled back]:DURATION:_default' \
'--max-delete=[Refuse plans deleting more than this percentage of a category'\''s entries (100 or 0\: no limit) \[default\: \$CONFSYNC_MAX_DELETE, else 25\]]:PERCENT:_default' \
'--two-way=[Synchronize both ways\: what changed on either server since their last two-way sync goes to the other. Alone, every category compared goes both ways; with a list (\`--two-way config\`), only those do and the others go one way, from --from]::CATS:_default' \
'--conflict=[Who wins a file changed on both servers\: newest (the more recent modification, clocks compared at the start), source (--from), destination (--to), or ask (the wizard asks per file). The losing version is kept in that server'\''s generation]:POLICY:_default' \
'--max-clock-skew=[Clocks further apart than this do not decide conflicts by time\: the plan refuses until they are set right or another --conflict policy decides]:DURATION:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--json[Print machine-readable JSON instead of text]' \
'--all[List every path, not only the first ones of each category]' \
'-y[Apply without asking (for scripts and cron)]' \
'--yes[Apply without asking (for scripts and cron)]' \
'--dry-run[Show the differences and stop]' \
'--keys[Show what changes inside each file, key by key (TOML, JSON, INI), record by record (JSON lines, CSV) and version by version, in the plan shown before the apply]' \
'--allow-empty-source[Allow an empty source category to empty the destination'\''s]' \
'--allow-protected[Write to a server marked protected]' \
'--allow-unmergeable[Leave shared files that hold device-specific keys but cannot be merged (they do not parse) as they are, and apply the rest]' \
'--refuse-downgrade[Refuse to overwrite a file with an older copy (the source'\''s is older than the one the destination'\''s last sync brought, or than the destination'\''s own)]' \
'--refuse-local-edits[Refuse to overwrite or delete what was changed on the destination since its last sync (a hand edit), rather than only warn]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
'--from=[The source server\: a name from the server list, or host\:port]:SRC:_default' \
'--only=[Only these categories, comma separated (firmware, capdb, modules, config)]:CATS:_default' \
'--for=[A delta bundle for the destination this manifest describes (\`confsync manifest\`)\: only the content it lacks. Only that destination, in that state, can import it]:MANIFEST:_files' \
'-o+[The bundle file to write (replaced only once it is complete)]:FILE:_files' \
'--output=[The bundle file to write (replaced only once it is complete)]:FILE:_files' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--json[Print the summary as JSON]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(import)
_arguments "${_arguments_options[@]}" : \
'--to=[The destination server\: a name from the server list, or host\:port]:DST:_default' \
'()--on-agent=[The bundle is at this absolute path on the destination'\''s machine\: the agent reads it there, nothing is copied through this machine]:PATH:_files' \
'--only=[Only these categories of the bundle, comma separated \[default\: all it holds\]]:CATS:_default' \
'--plan=[Apply only if the plan is still exactly this one (12 or more hex digits)]:DIGEST:_default' \
'--max-delete=[Refuse plans deleting more than this percentage of a category'\''s entries (100 or 0\: no limit) \[default\: \$CONFSYNC_MAX_DELETE, else 25\]]:PERCENT:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'-y[Apply without asking]' \
'--yes[Apply without asking]' \
'--dry-run[Show the differences and stop]' \
'--json[Print JSON lines (plan, progress, result)]' \
'--all[List every path]' \
'--allow-empty-source[Allow an empty source category to empty the destination'\''s]' \
'--allow-protected[Write to a server marked protected]' \
'--allow-unmergeable[Leave shared files that hold device-specific keys but cannot be merged (they do not parse) as they are, and apply the rest]' \
'--refuse-downgrade[Refuse to overwrite a file with an older copy (the source'\''s is older than the one the destination'\''s last sync brought, or than the destination'\''s own)]' \
'--refuse-local-edits[Refuse to overwrite or delete what was changed on the destination since its last sync (a hand edit), rather than only warn]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'::file -- The bundle file (`confsync export` wrote it). With --on-agent, a path on the destination'\''s own machine instead (a USB stick plugged into the backup):_files' \
&& ret=0
;;
(manifest)
_arguments "${_arguments_options[@]}" : \
'--server=[The destination server whose manifest to take]:DST:_default' \
'--only=[Only these categories, comma separated]:CATS:_default' \
'-o+[The manifest file to write]:FILE:_files' \
'--output=[The manifest file to write]:FILE:_files' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(servers)
_arguments "${_arguments_options[@]}" : \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_confsync__subcmd__servers_commands" \
"*::: :->servers" \
&& ret=0

    case $state in
    (servers)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:confsync-servers-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
'--role=[primary or backup]:ROLE:(primary backup)' \
'--two-way=[Categories \`auto\` synchronizes both ways between this server and its source, comma separated (\`config\`); the others go one way]:CATS:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name -- A short name to use in --from, --to and the wizard:_default' \
':address -- Where its agent listens\: host\:port:_default' \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
'--filter=[Only servers whose name contains this text (any case)]:FILTER:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--json[Print machine-readable JSON]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(show)
_arguments "${_arguments_options[@]}" : \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--json[Print machine-readable JSON]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name:_default' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_confsync__subcmd__servers__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:confsync-servers-help-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(show)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(status)
_arguments "${_arguments_options[@]}" : \
'--from=[The server the others are compared with \[default\: the list'\''s primary\]]:SRC:_default' \
'--every=[With --watch, redraw at least this often]:DURATION:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--watch[Keep the table live\: redrawn when a tree changes, and every --every]' \
'--json[Print the rows as JSON (with --watch, one document per line)]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(auto)
_arguments "${_arguments_options[@]}" : \
'--from=[The source server\: a name from the server list, or host\:port]:SRC:_default' \
'--to=[Destination servers, comma separated\: names or host\:port]:DST[,DST...]:_default' \
'--only=[Only these categories, comma separated (firmware, capdb, modules, config). Licenses are never synchronized]:CATS:_default' \
'--every=[Sync on this schedule\: 30s, 5m, 1h, 1h30m (a little jitter is added). Without --every and --on-change\: every 5m]:DURATION:_default' \
'--max-delete=[Refuse plans deleting more than this percentage of a category'\''s entries (100 or 0\: no limit) \[default\: \$CONFSYNC_MAX_DELETE, else 25\]]:PERCENT:_default' \
'--two-way=[Synchronize both ways\: what changed on either server since their last two-way sync goes to the other. Alone, every category compared goes both ways; with a list (\`--two-way config\`), only those do and the others go one way, from --from]::CATS:_default' \
'--conflict=[Who wins a file changed on both servers\: newest (the more recent modification, clocks compared at the start), source (--from), destination (--to), or ask (the wizard asks per file). The losing version is kept in that server'\''s generation]:POLICY:_default' \
'--max-clock-skew=[Clocks further apart than this do not decide conflicts by time\: the plan refuses until they are set right or another --conflict policy decides]:DURATION:_default' \
'--status-file=[Keep a JSON status here\: per destination the last attempt, last success, failures in a row and last error]:PATH:_files' \
'--metrics=[Serve Prometheus metrics at http\://ADDR/metrics\: runs by destination and outcome, seconds since each destination'\''s last success \[default ADDR\: 127.0.0.1\:9469\]]::ADDR:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--on-change[Sync soon after the source'\''s tree changes (follows the source'\''s change events)]' \
'(--every --on-change)--once[One pass over every destination, then exit with the sync exit codes (cron, timers)]' \
'--allow-empty-source[Allow an empty source category to empty the destination'\''s]' \
'--allow-protected[Write to a server marked protected]' \
'--allow-unmergeable[Leave shared files that hold device-specific keys but cannot be merged (they do not parse) as they are, and apply the rest]' \
'--refuse-downgrade[Refuse to overwrite a file with an older copy (the source'\''s is older than the one the destination'\''s last sync brought, or than the destination'\''s own)]' \
'--refuse-local-edits[Refuse to overwrite or delete what was changed on the destination since its last sync (a hand edit), rather than only warn]' \
'--json[Log lines as JSON objects on stdout, one per line]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(history)
_arguments "${_arguments_options[@]}" : \
'--server=[The server\: a name from the server list, or host\:port]:NAME:_default' \
'--limit=[Show at most this many entries (0\: all that are recorded)]:N:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--json[Print one JSON document instead of a table]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(rollback)
_arguments "${_arguments_options[@]}" : \
'--server=[The server to roll back\: a name from the server list, or host\:port]:NAME:_default' \
'--generation=[Restore the state before this generation, undoing it and every newer one \[default\: the newest generation\]. \`confsync history\` lists them]:ID:_default' \
'*--path=[Restore only this entry (and what lies inside it), as CATEGORY/PATH, e.g. \`config/app.conf\` (the losing version of a two-way conflict); repeatable]:CATEGORY/PATH:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'-y[Roll back without asking (for scripts)]' \
'--yes[Roll back without asking (for scripts)]' \
'--dry-run[Show what would change and stop]' \
'--force[Roll back even paths that changed after the generation that wrote them (what is overwritten is kept as the rollback'\''s own generation), and skip the checks]' \
'--allow-protected[Roll back a server marked protected]' \
'--json[Print JSON lines (plan, progress, result) instead of text]' \
'--all[List every path, not only the first ones of each category]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(verify)
_arguments "${_arguments_options[@]}" : \
'--server=[The server to verify\: a name from the server list, or host\:port]:NAME:_default' \
'--against=[Also read back this source, then compare the server with it (what \`diff\` would show, on contents just read)]:SRC:_default' \
'--only=[Only these categories, comma separated (firmware, capdb, modules, config)]:CATS:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--json[Print the result as JSON]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(hold)
_arguments "${_arguments_options[@]}" : \
'--server=[The server to hold\: a name from the server list, or host\:port]:NAME:_default' \
'--reason=[Why; shown in every refusal until the release. Without it, a server already on hold keeps its reason (the hold is shown, not replaced)]:TEXT:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--json[Print the hold state as JSON]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(release)
_arguments "${_arguments_options[@]}" : \
'--server=[The server to release\: a name from the server list, or host\:port]:NAME:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--json[Print the hold state as JSON]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(confirm)
_arguments "${_arguments_options[@]}" : \
'--server=[The server whose generation to confirm\: a name from the server list, or host\:port]:NAME:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--json[Print the result as JSON]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(certs)
_arguments "${_arguments_options[@]}" : \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_confsync__subcmd__certs_commands" \
"*::: :->certs" \
&& ret=0

    case $state in
    (certs)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:confsync-certs-command-$line[1]:"
        case $line[1] in
            (init)
_arguments "${_arguments_options[@]}" : \
'--dir=[Folder for the CA files (created with mode 0700)]:DIR:_files' \
'--name=[The CA'\''s common name \[default\: "confsync CA", this host'\''s name, the date and a random tag\]]:NAME:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--force[Replace an existing CA (every certificate it issued stops being trusted)]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(issue)
_arguments "${_arguments_options[@]}" : \
'--role=[agent\: serves and pulls from other agents; admin\: plans, applies, rolls back]:ROLE:_default' \
'*--san=[Host name or IP address the agent is reached at; repeat for each (agents only)]:HOST:_default' \
'--dir=[Folder holding the CA (from \`certs init\`); the new files are written there]:DIR:_files' \
'--days=[Days the certificate is valid]:N:_default' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--force[Replace existing files of the same name]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':name -- The certificate'\''s name\: the server'\''s name for an agent, a person'\''s for an admin:_default' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_confsync__subcmd__certs__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:confsync-certs-help-command-$line[1]:"
        case $line[1] in
            (init)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(issue)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(demo)
_arguments "${_arguments_options[@]}" : \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'--keep[Keep the sample trees after the demo and print where they are]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'()--dir=[Write every page (confsync.1, confsync-sync.1, ...) into this folder instead]:DIR:_files' \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'*::command -- One command'\''s page (`sync`, `servers add`, ...) instead of the top one:_default' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'--servers=[The server list \[default\: \$CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml\]]:FILE:_files' \
'--ca=[CA certificate (PEM) that issued the agents'\'' certificates; with --cert and --key, connect to agents with mutual TLS]:FILE:_files' \
'--cert=[This client'\''s certificate (PEM), issued by \`confsync certs issue NAME --role admin\`]:FILE:_files' \
'--key=[The private key of --cert (PEM)]:FILE:_files' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'--insecure[Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':shell -- bash, zsh, fish, powershell or elvish:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_confsync__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:confsync-help-command-$line[1]:"
        case $line[1] in
            (agent)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(wizard)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(diff)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(sync)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(import)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(manifest)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(servers)
_arguments "${_arguments_options[@]}" : \
":: :_confsync__subcmd__help__subcmd__servers_commands" \
"*::: :->servers" \
&& ret=0

    case $state in
    (servers)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:confsync-help-servers-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(show)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(status)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(auto)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(history)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(rollback)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(verify)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(hold)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(release)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(confirm)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(certs)
_arguments "${_arguments_options[@]}" : \
":: :_confsync__subcmd__help__subcmd__certs_commands" \
"*::: :->certs" \
&& ret=0

    case $state in
    (certs)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:confsync-help-certs-command-$line[1]:"
        case $line[1] in
            (init)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(issue)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(demo)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_confsync_commands] )) ||
_confsync_commands() {
    local commands; commands=(
'agent:Serve this server'\''s tree to other agents and the CLI' \
'wizard:Step by step\: pick source, destination and categories, review, confirm, apply' \
'diff:Show what would change on DST to make it equal SRC (exit 1 when they differ)' \
'sync:Make one or more destinations equal the source, after showing the differences' \
'export:Write a source'\''s tree to one bundle file, for a destination that cannot reach it' \
'import:Apply a bundle file to a destination, as a sync from the bundle'\''s origin' \
'manifest:Take a destination'\''s manifest, to export a delta bundle that carries only what it lacks' \
'servers:Keep the list of servers, and see them all live (inventory, last sync, in step?)' \
'status:One row per server against the primary\: in sync, pending, edited locally, held, unreachable..., each with the command that fixes it (exit 0 in sync, 1 not, 3 unreachable)' \
'auto:Keep destinations following a source\: on a schedule, on change, or both' \
'history:List the applies recorded on a server, newest first' \
'rollback:Restore a server to its state before a kept generation' \
'verify:Read every file of a server again, ignoring its index, and report what does not match (exit 1); with --against, compare it with a source read back too' \
'hold:Make a server refuse every apply until released (maintenance, upgrades)' \
'release:Let a held server accept applies again' \
'confirm:Confirm a generation applied with \`sync --confirm-within\`, so that it stands' \
'certs:Create a certificate authority and issue agent and admin certificates' \
'demo:Start two sample servers on this machine and synchronize them' \
'man:Print a manual page (roff), generated from the same definitions as --help\: the top page, one command'\''s, or every page into a folder' \
'completions:Print a shell completion script' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'confsync commands' commands "$@"
}
(( $+functions[_confsync__subcmd__agent_commands] )) ||
_confsync__subcmd__agent_commands() {
    local commands; commands=()
    _describe -t commands 'confsync agent commands' commands "$@"
}
(( $+functions[_confsync__subcmd__auto_commands] )) ||
_confsync__subcmd__auto_commands() {
    local commands; commands=()
    _describe -t commands 'confsync auto commands' commands "$@"
}
(( $+functions[_confsync__subcmd__certs_commands] )) ||
_confsync__subcmd__certs_commands() {
    local commands; commands=(
'init:Create a certificate authority\: DIR/ca.pem (give it to every agent and admin) and DIR/ca.key (keep it on this machine only)' \
'issue:Issue a certificate and key signed by the CA in DIR\: DIR/NAME.pem and DIR/NAME.key' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'confsync certs commands' commands "$@"
}
(( $+functions[_confsync__subcmd__certs__subcmd__help_commands] )) ||
_confsync__subcmd__certs__subcmd__help_commands() {
    local commands; commands=(
'init:Create a certificate authority\: DIR/ca.pem (give it to every agent and admin) and DIR/ca.key (keep it on this machine only)' \
'issue:Issue a certificate and key signed by the CA in DIR\: DIR/NAME.pem and DIR/NAME.key' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'confsync certs help commands' commands "$@"
}
(( $+functions[_confsync__subcmd__certs__subcmd__help__subcmd__help_commands] )) ||
_confsync__subcmd__certs__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'confsync certs help help commands' commands "$@"
}
(( $+functions[_confsync__subcmd__certs__subcmd__help__subcmd__init_commands] )) ||
_confsync__subcmd__certs__subcmd__help__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'confsync certs help init commands' commands "$@"
}
(( $+functions[_confsync__subcmd__certs__subcmd__help__subcmd__issue_commands] )) ||
_confsync__subcmd__certs__subcmd__help__subcmd__issue_commands() {
    local commands; commands=()
    _describe -t commands 'confsync certs help issue commands' commands "$@"
}
(( $+functions[_confsync__subcmd__certs__subcmd__init_commands] )) ||
_confsync__subcmd__certs__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'confsync certs init commands' commands "$@"
}
(( $+functions[_confsync__subcmd__certs__subcmd__issue_commands] )) ||
_confsync__subcmd__certs__subcmd__issue_commands() {
    local commands; commands=()
    _describe -t commands 'confsync certs issue commands' commands "$@"
}
(( $+functions[_confsync__subcmd__completions_commands] )) ||
_confsync__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'confsync completions commands' commands "$@"
}
(( $+functions[_confsync__subcmd__confirm_commands] )) ||
_confsync__subcmd__confirm_commands() {
    local commands; commands=()
    _describe -t commands 'confsync confirm commands' commands "$@"
}
(( $+functions[_confsync__subcmd__demo_commands] )) ||
_confsync__subcmd__demo_commands() {
    local commands; commands=()
    _describe -t commands 'confsync demo commands' commands "$@"
}
(( $+functions[_confsync__subcmd__diff_commands] )) ||
_confsync__subcmd__diff_commands() {
    local commands; commands=()
    _describe -t commands 'confsync diff commands' commands "$@"
}
(( $+functions[_confsync__subcmd__export_commands] )) ||
_confsync__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'confsync export commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help_commands] )) ||
_confsync__subcmd__help_commands() {
    local commands; commands=(
'agent:Serve this server'\''s tree to other agents and the CLI' \
'wizard:Step by step\: pick source, destination and categories, review, confirm, apply' \
'diff:Show what would change on DST to make it equal SRC (exit 1 when they differ)' \
'sync:Make one or more destinations equal the source, after showing the differences' \
'export:Write a source'\''s tree to one bundle file, for a destination that cannot reach it' \
'import:Apply a bundle file to a destination, as a sync from the bundle'\''s origin' \
'manifest:Take a destination'\''s manifest, to export a delta bundle that carries only what it lacks' \
'servers:Keep the list of servers, and see them all live (inventory, last sync, in step?)' \
'status:One row per server against the primary\: in sync, pending, edited locally, held, unreachable..., each with the command that fixes it (exit 0 in sync, 1 not, 3 unreachable)' \
'auto:Keep destinations following a source\: on a schedule, on change, or both' \
'history:List the applies recorded on a server, newest first' \
'rollback:Restore a server to its state before a kept generation' \
'verify:Read every file of a server again, ignoring its index, and report what does not match (exit 1); with --against, compare it with a source read back too' \
'hold:Make a server refuse every apply until released (maintenance, upgrades)' \
'release:Let a held server accept applies again' \
'confirm:Confirm a generation applied with \`sync --confirm-within\`, so that it stands' \
'certs:Create a certificate authority and issue agent and admin certificates' \
'demo:Start two sample servers on this machine and synchronize them' \
'man:Print a manual page (roff), generated from the same definitions as --help\: the top page, one command'\''s, or every page into a folder' \
'completions:Print a shell completion script' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'confsync help commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__agent_commands] )) ||
_confsync__subcmd__help__subcmd__agent_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help agent commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__auto_commands] )) ||
_confsync__subcmd__help__subcmd__auto_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help auto commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__certs_commands] )) ||
_confsync__subcmd__help__subcmd__certs_commands() {
    local commands; commands=(
'init:Create a certificate authority\: DIR/ca.pem (give it to every agent and admin) and DIR/ca.key (keep it on this machine only)' \
'issue:Issue a certificate and key signed by the CA in DIR\: DIR/NAME.pem and DIR/NAME.key' \
    )
    _describe -t commands 'confsync help certs commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__certs__subcmd__init_commands] )) ||
_confsync__subcmd__help__subcmd__certs__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help certs init commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__certs__subcmd__issue_commands] )) ||
_confsync__subcmd__help__subcmd__certs__subcmd__issue_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help certs issue commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__completions_commands] )) ||
_confsync__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help completions commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__confirm_commands] )) ||
_confsync__subcmd__help__subcmd__confirm_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help confirm commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__demo_commands] )) ||
_confsync__subcmd__help__subcmd__demo_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help demo commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__diff_commands] )) ||
_confsync__subcmd__help__subcmd__diff_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help diff commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__export_commands] )) ||
_confsync__subcmd__help__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help export commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__help_commands] )) ||
_confsync__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help help commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__history_commands] )) ||
_confsync__subcmd__help__subcmd__history_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help history commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__hold_commands] )) ||
_confsync__subcmd__help__subcmd__hold_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help hold commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__import_commands] )) ||
_confsync__subcmd__help__subcmd__import_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help import commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__man_commands] )) ||
_confsync__subcmd__help__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help man commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__manifest_commands] )) ||
_confsync__subcmd__help__subcmd__manifest_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help manifest commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__release_commands] )) ||
_confsync__subcmd__help__subcmd__release_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help release commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__rollback_commands] )) ||
_confsync__subcmd__help__subcmd__rollback_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help rollback commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__servers_commands] )) ||
_confsync__subcmd__help__subcmd__servers_commands() {
    local commands; commands=(
'add:Add a server to the list (or change it); with --ca/--cert/--key, store the certificate to reach it with' \
'remove:Remove a server from the list' \
'list:Ask every listed server at once and print one table' \
'show:Everything one server reports about itself' \
    )
    _describe -t commands 'confsync help servers commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__servers__subcmd__add_commands] )) ||
_confsync__subcmd__help__subcmd__servers__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help servers add commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__servers__subcmd__list_commands] )) ||
_confsync__subcmd__help__subcmd__servers__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help servers list commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__servers__subcmd__remove_commands] )) ||
_confsync__subcmd__help__subcmd__servers__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help servers remove commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__servers__subcmd__show_commands] )) ||
_confsync__subcmd__help__subcmd__servers__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help servers show commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__status_commands] )) ||
_confsync__subcmd__help__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help status commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__sync_commands] )) ||
_confsync__subcmd__help__subcmd__sync_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help sync commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__verify_commands] )) ||
_confsync__subcmd__help__subcmd__verify_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help verify commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__wizard_commands] )) ||
_confsync__subcmd__help__subcmd__wizard_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help wizard commands' commands "$@"
}
(( $+functions[_confsync__subcmd__history_commands] )) ||
_confsync__subcmd__history_commands() {
    local commands; commands=()
    _describe -t commands 'confsync history commands' commands "$@"
}
(( $+functions[_confsync__subcmd__hold_commands] )) ||
_confsync__subcmd__hold_commands() {
    local commands; commands=()
    _describe -t commands 'confsync hold commands' commands "$@"
}
(( $+functions[_confsync__subcmd__import_commands] )) ||
_confsync__subcmd__import_commands() {
    local commands; commands=()
    _describe -t commands 'confsync import commands' commands "$@"
}
(( $+functions[_confsync__subcmd__man_commands] )) ||
_confsync__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'confsync man commands' commands "$@"
}
(( $+functions[_confsync__subcmd__manifest_commands] )) ||
_confsync__subcmd__manifest_commands() {
    local commands; commands=()
    _describe -t commands 'confsync manifest commands' commands "$@"
}
(( $+functions[_confsync__subcmd__release_commands] )) ||
_confsync__subcmd__release_commands() {
    local commands; commands=()
    _describe -t commands 'confsync release commands' commands "$@"
}
(( $+functions[_confsync__subcmd__rollback_commands] )) ||
_confsync__subcmd__rollback_commands() {
    local commands; commands=()
    _describe -t commands 'confsync rollback commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers_commands] )) ||
_confsync__subcmd__servers_commands() {
    local commands; commands=(
'add:Add a server to the list (or change it); with --ca/--cert/--key, store the certificate to reach it with' \
'remove:Remove a server from the list' \
'list:Ask every listed server at once and print one table' \
'show:Everything one server reports about itself' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'confsync servers commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers__subcmd__add_commands] )) ||
_confsync__subcmd__servers__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'confsync servers add commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers__subcmd__help_commands] )) ||
_confsync__subcmd__servers__subcmd__help_commands() {
    local commands; commands=(
'add:Add a server to the list (or change it); with --ca/--cert/--key, store the certificate to reach it with' \
'remove:Remove a server from the list' \
'list:Ask every listed server at once and print one table' \
'show:Everything one server reports about itself' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'confsync servers help commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers__subcmd__help__subcmd__add_commands] )) ||
_confsync__subcmd__servers__subcmd__help__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'confsync servers help add commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers__subcmd__help__subcmd__help_commands] )) ||
_confsync__subcmd__servers__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'confsync servers help help commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers__subcmd__help__subcmd__list_commands] )) ||
_confsync__subcmd__servers__subcmd__help__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'confsync servers help list commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers__subcmd__help__subcmd__remove_commands] )) ||
_confsync__subcmd__servers__subcmd__help__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'confsync servers help remove commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers__subcmd__help__subcmd__show_commands] )) ||
_confsync__subcmd__servers__subcmd__help__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'confsync servers help show commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers__subcmd__list_commands] )) ||
_confsync__subcmd__servers__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'confsync servers list commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers__subcmd__remove_commands] )) ||
_confsync__subcmd__servers__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'confsync servers remove commands' commands "$@"
}
(( $+functions[_confsync__subcmd__servers__subcmd__show_commands] )) ||
_confsync__subcmd__servers__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'confsync servers show commands' commands "$@"
}
(( $+functions[_confsync__subcmd__status_commands] )) ||
_confsync__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'confsync status commands' commands "$@"
}
(( $+functions[_confsync__subcmd__sync_commands] )) ||
_confsync__subcmd__sync_commands() {
    local commands; commands=()
    _describe -t commands 'confsync sync commands' commands "$@"
}
(( $+functions[_confsync__subcmd__verify_commands] )) ||
_confsync__subcmd__verify_commands() {
    local commands; commands=()
    _describe -t commands 'confsync verify commands' commands "$@"
}
(( $+functions[_confsync__subcmd__wizard_commands] )) ||
_confsync__subcmd__wizard_commands() {
    local commands; commands=()
    _describe -t commands 'confsync wizard commands' commands "$@"
}

if [ "$funcstack[1]" = "_confsync" ]; then
    _confsync "$@"
else
    compdef _confsync confsync
fi
