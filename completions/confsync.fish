# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_confsync_global_optspecs
    string join \n v/verbose servers= ca= cert= key= insecure h/help V/version
end

function __fish_confsync_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_confsync_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_confsync_using_subcommand
    set -l cmd (__fish_confsync_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c confsync -n "__fish_confsync_needs_command" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_needs_command" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_needs_command" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_needs_command" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_needs_command" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_needs_command" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_needs_command" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_needs_command" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "agent" -d 'Serve this server\'s tree to other agents and the CLI'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "wizard" -d 'Step by step: pick source, destination and categories, review, confirm, apply'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "diff" -d 'Show what would change on DST to make it equal SRC (exit 1 when they differ)'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "sync" -d 'Make one or more destinations equal the source, after showing the differences'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "export" -d 'Write a source\'s tree to one bundle file, for a destination that cannot reach it'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "import" -d 'Apply a bundle file to a destination, as a sync from the bundle\'s origin'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "manifest" -d 'Take a destination\'s manifest, to export a delta bundle that carries only what it lacks'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "servers" -d 'Keep the list of servers, and see them all live (inventory, last sync, in step?)'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "status" -d 'One row per server against the primary: in sync, pending, edited locally, held, unreachable..., each with the command that fixes it (exit 0 in sync, 1 not, 3 unreachable)'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "auto" -d 'Keep destinations following a source: on a schedule, on change, or both'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "history" -d 'List the applies recorded on a server, newest first'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "rollback" -d 'Restore a server to its state before a kept generation'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "verify" -d 'Read every file of a server again, ignoring its index, and report what does not match (exit 1); with --against, compare it with a source read back too'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "hold" -d 'Make a server refuse every apply until released (maintenance, upgrades)'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "release" -d 'Let a held server accept applies again'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "confirm" -d 'Confirm a generation applied with `sync --confirm-within`, so that it stands'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "certs" -d 'Create a certificate authority and issue agent and admin certificates'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "demo" -d 'Start two sample servers on this machine and synchronize them'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "man" -d 'Print a manual page (roff), generated from the same definitions as --help: the top page, one command\'s, or every page into a folder'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l root -d 'Serve DIR/{firmware,capdb,modules,config}; DIR/licenses stays untouched and DIR/.confsync holds the agent\'s state' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l config -d 'Read name, paths, protection and more from this agent.toml' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l listen -d 'Address to listen on [default: 127.0.0.1:7420]' -r
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l name -d 'The server\'s name in plans and history [default: the hostname]' -r
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l keep-generations -d 'How many applied generations to keep for rollback [default: 5]' -r
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l stall-timeout -d 'How long a source may stay silent in the middle of a transfer before it is given up on, with a message naming it (`15s`, `1m`) [default: 15s]' -r
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l rescan-every -d 'How often the tree is scanned in full although the file watcher reported no change (`30m`, `1h`): the safety net for changes a watcher can miss [default: 1h]' -r
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l metrics -d 'Serve Prometheus metrics at http://ADDR/metrics (generations, drift, applies and refusals by kind, bytes, durations, hold) [default ADDR: 127.0.0.1:9469]' -r
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l tls-ca -d 'CA certificate (PEM) that issued the peers\' certificates (admins and other agents)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l tls-cert -d 'This agent\'s certificate (PEM), from `confsync certs issue NAME --role agent`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l tls-key -d 'The private key of --tls-cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l protected -d 'Refuse every apply unless the client passes --allow-protected (for a primary)'
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l init -d 'Create the root (or configured paths) and empty category folders when missing. Without it, a folder that does not exist stops the agent: it is most often a typo'
complete -c confsync -n "__fish_confsync_using_subcommand agent" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand agent" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand agent" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand wizard" -l confirm-within -d 'Commit-confirmed, as `sync --confirm-within`: the destination rolls the generation back itself unless `confsync confirm` arrives within this long' -r
complete -c confsync -n "__fish_confsync_using_subcommand wizard" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand wizard" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand wizard" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand wizard" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand wizard" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand wizard" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand wizard" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand wizard" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l from -d 'The source server: a name from the server list, or host:port (for `diff`, also a bundle file that `confsync export` wrote)' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l only -d 'Only these categories, comma separated (firmware, capdb, modules, config). Licenses are never synchronized' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l to -d 'The destination server: a name from the server list, or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l max-delete -d 'Refuse plans deleting more than this percentage of a category\'s entries (100 or 0: no limit) [default: $CONFSYNC_MAX_DELETE, else 25]' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l two-way -d 'Synchronize both ways: what changed on either server since their last two-way sync goes to the other. Alone, every category compared goes both ways; with a list (`--two-way config`), only those do and the others go one way, from --from' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l conflict -d 'Who wins a file changed on both servers: newest (the more recent modification, clocks compared at the start), source (--from), destination (--to), or ask (the wizard asks per file). The losing version is kept in that server\'s generation' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l max-clock-skew -d 'Clocks further apart than this do not decide conflicts by time: the plan refuses until they are set right or another --conflict policy decides' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l json -d 'Print machine-readable JSON instead of text'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l all -d 'List every path, not only the first ones of each category'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l keys -d 'Also show what changes inside files of known formats: key by key (TOML, JSON, INI), record by record (a capability database of JSON lines or CSV), and version order for a file holding a version'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l allow-empty-source -d 'Allow an empty source category to empty the destination\'s'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l allow-protected -d 'Write to a server marked protected'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l allow-unmergeable -d 'Leave shared files that hold device-specific keys but cannot be merged (they do not parse) as they are, and apply the rest'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l refuse-downgrade -d 'Refuse to overwrite a file with an older copy (the source\'s is older than the one the destination\'s last sync brought, or than the destination\'s own)'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l refuse-local-edits -d 'Refuse to overwrite or delete what was changed on the destination since its last sync (a hand edit), rather than only warn'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l from -d 'The source server: a name from the server list, or host:port (for `diff`, also a bundle file that `confsync export` wrote)' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l only -d 'Only these categories, comma separated (firmware, capdb, modules, config). Licenses are never synchronized' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l to -d 'Destination servers, comma separated: names from the server list or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l plan -d 'Apply only if the plan is still exactly this one: the digest `diff` shows ("Plan 1a2b3c4d5e6f", 12 or more hex digits) or the whole one `diff --json` prints' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l confirm-within -d 'Commit-confirmed: each destination rolls the generation back itself unless `confsync confirm --server DST` arrives within this long (`10m`); the deadline survives a restart of the destination, and every other apply there is refused until it is confirmed or rolled back' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l max-delete -d 'Refuse plans deleting more than this percentage of a category\'s entries (100 or 0: no limit) [default: $CONFSYNC_MAX_DELETE, else 25]' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l two-way -d 'Synchronize both ways: what changed on either server since their last two-way sync goes to the other. Alone, every category compared goes both ways; with a list (`--two-way config`), only those do and the others go one way, from --from' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l conflict -d 'Who wins a file changed on both servers: newest (the more recent modification, clocks compared at the start), source (--from), destination (--to), or ask (the wizard asks per file). The losing version is kept in that server\'s generation' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l max-clock-skew -d 'Clocks further apart than this do not decide conflicts by time: the plan refuses until they are set right or another --conflict policy decides' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l json -d 'Print machine-readable JSON instead of text'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l all -d 'List every path, not only the first ones of each category'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -s y -l yes -d 'Apply without asking (for scripts and cron)'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l dry-run -d 'Show the differences and stop'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l keys -d 'Show what changes inside each file, key by key (TOML, JSON, INI), record by record (JSON lines, CSV) and version by version, in the plan shown before the apply'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l allow-empty-source -d 'Allow an empty source category to empty the destination\'s'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l allow-protected -d 'Write to a server marked protected'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l allow-unmergeable -d 'Leave shared files that hold device-specific keys but cannot be merged (they do not parse) as they are, and apply the rest'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l refuse-downgrade -d 'Refuse to overwrite a file with an older copy (the source\'s is older than the one the destination\'s last sync brought, or than the destination\'s own)'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l refuse-local-edits -d 'Refuse to overwrite or delete what was changed on the destination since its last sync (a hand edit), rather than only warn'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand export" -l from -d 'The source server: a name from the server list, or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand export" -l only -d 'Only these categories, comma separated (firmware, capdb, modules, config)' -r
complete -c confsync -n "__fish_confsync_using_subcommand export" -l for -d 'A delta bundle for the destination this manifest describes (`confsync manifest`): only the content it lacks. Only that destination, in that state, can import it' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand export" -s o -l output -d 'The bundle file to write (replaced only once it is complete)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand export" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand export" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand export" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand export" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand export" -l json -d 'Print the summary as JSON'
complete -c confsync -n "__fish_confsync_using_subcommand export" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand export" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand export" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand export" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand import" -l to -d 'The destination server: a name from the server list, or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand import" -l on-agent -d 'The bundle is at this absolute path on the destination\'s machine: the agent reads it there, nothing is copied through this machine' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand import" -l only -d 'Only these categories of the bundle, comma separated [default: all it holds]' -r
complete -c confsync -n "__fish_confsync_using_subcommand import" -l plan -d 'Apply only if the plan is still exactly this one (12 or more hex digits)' -r
complete -c confsync -n "__fish_confsync_using_subcommand import" -l max-delete -d 'Refuse plans deleting more than this percentage of a category\'s entries (100 or 0: no limit) [default: $CONFSYNC_MAX_DELETE, else 25]' -r
complete -c confsync -n "__fish_confsync_using_subcommand import" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand import" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand import" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand import" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand import" -s y -l yes -d 'Apply without asking'
complete -c confsync -n "__fish_confsync_using_subcommand import" -l dry-run -d 'Show the differences and stop'
complete -c confsync -n "__fish_confsync_using_subcommand import" -l json -d 'Print JSON lines (plan, progress, result)'
complete -c confsync -n "__fish_confsync_using_subcommand import" -l all -d 'List every path'
complete -c confsync -n "__fish_confsync_using_subcommand import" -l allow-empty-source -d 'Allow an empty source category to empty the destination\'s'
complete -c confsync -n "__fish_confsync_using_subcommand import" -l allow-protected -d 'Write to a server marked protected'
complete -c confsync -n "__fish_confsync_using_subcommand import" -l allow-unmergeable -d 'Leave shared files that hold device-specific keys but cannot be merged (they do not parse) as they are, and apply the rest'
complete -c confsync -n "__fish_confsync_using_subcommand import" -l refuse-downgrade -d 'Refuse to overwrite a file with an older copy (the source\'s is older than the one the destination\'s last sync brought, or than the destination\'s own)'
complete -c confsync -n "__fish_confsync_using_subcommand import" -l refuse-local-edits -d 'Refuse to overwrite or delete what was changed on the destination since its last sync (a hand edit), rather than only warn'
complete -c confsync -n "__fish_confsync_using_subcommand import" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand import" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand import" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand import" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -l server -d 'The destination server whose manifest to take' -r
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -l only -d 'Only these categories, comma separated' -r
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -s o -l output -d 'The manifest file to write' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand manifest" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -f -a "add" -d 'Add a server to the list (or change it); with --ca/--cert/--key, store the certificate to reach it with'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -f -a "remove" -d 'Remove a server from the list'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -f -a "list" -d 'Ask every listed server at once and print one table'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -f -a "show" -d 'Everything one server reports about itself'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and not __fish_seen_subcommand_from add remove list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from add" -l role -d 'primary or backup' -r -f -a "primary\t''
backup\t''"
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from add" -l two-way -d 'Categories `auto` synchronizes both ways between this server and its source, comma separated (`config`); the others go one way' -r
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from add" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from add" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from add" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from add" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from add" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from add" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from remove" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from remove" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from remove" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from remove" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from remove" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from list" -l filter -d 'Only servers whose name contains this text (any case)' -r
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from list" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from list" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from list" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from list" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from list" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from show" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from show" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from show" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from show" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from show" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a server to the list (or change it); with --ca/--cert/--key, store the certificate to reach it with'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a server from the list'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from help" -f -a "list" -d 'Ask every listed server at once and print one table'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from help" -f -a "show" -d 'Everything one server reports about itself'
complete -c confsync -n "__fish_confsync_using_subcommand servers; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c confsync -n "__fish_confsync_using_subcommand status" -l from -d 'The server the others are compared with [default: the list\'s primary]' -r
complete -c confsync -n "__fish_confsync_using_subcommand status" -l every -d 'With --watch, redraw at least this often' -r
complete -c confsync -n "__fish_confsync_using_subcommand status" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand status" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand status" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand status" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand status" -l watch -d 'Keep the table live: redrawn when a tree changes, and every --every'
complete -c confsync -n "__fish_confsync_using_subcommand status" -l json -d 'Print the rows as JSON (with --watch, one document per line)'
complete -c confsync -n "__fish_confsync_using_subcommand status" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand status" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand status" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand status" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l from -d 'The source server: a name from the server list, or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l to -d 'Destination servers, comma separated: names or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l only -d 'Only these categories, comma separated (firmware, capdb, modules, config). Licenses are never synchronized' -r
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l every -d 'Sync on this schedule: 30s, 5m, 1h, 1h30m (a little jitter is added). Without --every and --on-change: every 5m' -r
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l max-delete -d 'Refuse plans deleting more than this percentage of a category\'s entries (100 or 0: no limit) [default: $CONFSYNC_MAX_DELETE, else 25]' -r
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l two-way -d 'Synchronize both ways: what changed on either server since their last two-way sync goes to the other. Alone, every category compared goes both ways; with a list (`--two-way config`), only those do and the others go one way, from --from' -r
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l conflict -d 'Who wins a file changed on both servers: newest (the more recent modification, clocks compared at the start), source (--from), destination (--to), or ask (the wizard asks per file). The losing version is kept in that server\'s generation' -r
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l max-clock-skew -d 'Clocks further apart than this do not decide conflicts by time: the plan refuses until they are set right or another --conflict policy decides' -r
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l status-file -d 'Keep a JSON status here: per destination the last attempt, last success, failures in a row and last error' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l metrics -d 'Serve Prometheus metrics at http://ADDR/metrics: runs by destination and outcome, seconds since each destination\'s last success [default ADDR: 127.0.0.1:9469]' -r
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l on-change -d 'Sync soon after the source\'s tree changes (follows the source\'s change events)'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l once -d 'One pass over every destination, then exit with the sync exit codes (cron, timers)'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l allow-empty-source -d 'Allow an empty source category to empty the destination\'s'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l allow-protected -d 'Write to a server marked protected'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l allow-unmergeable -d 'Leave shared files that hold device-specific keys but cannot be merged (they do not parse) as they are, and apply the rest'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l refuse-downgrade -d 'Refuse to overwrite a file with an older copy (the source\'s is older than the one the destination\'s last sync brought, or than the destination\'s own)'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l refuse-local-edits -d 'Refuse to overwrite or delete what was changed on the destination since its last sync (a hand edit), rather than only warn'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l json -d 'Log lines as JSON objects on stdout, one per line'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand auto" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand history" -l server -d 'The server: a name from the server list, or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand history" -l limit -d 'Show at most this many entries (0: all that are recorded)' -r
complete -c confsync -n "__fish_confsync_using_subcommand history" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand history" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand history" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand history" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand history" -l json -d 'Print one JSON document instead of a table'
complete -c confsync -n "__fish_confsync_using_subcommand history" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand history" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand history" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand history" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l server -d 'The server to roll back: a name from the server list, or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l generation -d 'Restore the state before this generation, undoing it and every newer one [default: the newest generation]. `confsync history` lists them' -r
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l path -d 'Restore only this entry (and what lies inside it), as CATEGORY/PATH, e.g. `config/app.conf` (the losing version of a two-way conflict); repeatable' -r
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -s y -l yes -d 'Roll back without asking (for scripts)'
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l dry-run -d 'Show what would change and stop'
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l force -d 'Roll back even paths that changed after the generation that wrote them (what is overwritten is kept as the rollback\'s own generation), and skip the checks'
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l allow-protected -d 'Roll back a server marked protected'
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l json -d 'Print JSON lines (plan, progress, result) instead of text'
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l all -d 'List every path, not only the first ones of each category'
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand rollback" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand verify" -l server -d 'The server to verify: a name from the server list, or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand verify" -l against -d 'Also read back this source, then compare the server with it (what `diff` would show, on contents just read)' -r
complete -c confsync -n "__fish_confsync_using_subcommand verify" -l only -d 'Only these categories, comma separated (firmware, capdb, modules, config)' -r
complete -c confsync -n "__fish_confsync_using_subcommand verify" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand verify" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand verify" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand verify" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand verify" -l json -d 'Print the result as JSON'
complete -c confsync -n "__fish_confsync_using_subcommand verify" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand verify" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand verify" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand verify" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand hold" -l server -d 'The server to hold: a name from the server list, or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand hold" -l reason -d 'Why; shown in every refusal until the release. Without it, a server already on hold keeps its reason (the hold is shown, not replaced)' -r
complete -c confsync -n "__fish_confsync_using_subcommand hold" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand hold" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand hold" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand hold" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand hold" -l json -d 'Print the hold state as JSON'
complete -c confsync -n "__fish_confsync_using_subcommand hold" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand hold" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand hold" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand hold" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand release" -l server -d 'The server to release: a name from the server list, or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand release" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand release" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand release" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand release" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand release" -l json -d 'Print the hold state as JSON'
complete -c confsync -n "__fish_confsync_using_subcommand release" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand release" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand release" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand release" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand confirm" -l server -d 'The server whose generation to confirm: a name from the server list, or host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand confirm" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand confirm" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand confirm" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand confirm" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand confirm" -l json -d 'Print the result as JSON'
complete -c confsync -n "__fish_confsync_using_subcommand confirm" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand confirm" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand confirm" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand confirm" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -f -a "init" -d 'Create a certificate authority: DIR/ca.pem (give it to every agent and admin) and DIR/ca.key (keep it on this machine only)'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -f -a "issue" -d 'Issue a certificate and key signed by the CA in DIR: DIR/NAME.pem and DIR/NAME.key'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and not __fish_seen_subcommand_from init issue help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -l dir -d 'Folder for the CA files (created with mode 0700)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -l name -d 'The CA\'s common name [default: "confsync CA", this host\'s name, the date and a random tag]' -r
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -l force -d 'Replace an existing CA (every certificate it issued stops being trusted)'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -l role -d 'agent: serves and pulls from other agents; admin: plans, applies, rolls back' -r
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -l san -d 'Host name or IP address the agent is reached at; repeat for each (agents only)' -r
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -l dir -d 'Folder holding the CA (from `certs init`); the new files are written there' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -l days -d 'Days the certificate is valid' -r
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -l force -d 'Replace existing files of the same name'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from issue" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "init" -d 'Create a certificate authority: DIR/ca.pem (give it to every agent and admin) and DIR/ca.key (keep it on this machine only)'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "issue" -d 'Issue a certificate and key signed by the CA in DIR: DIR/NAME.pem and DIR/NAME.key'
complete -c confsync -n "__fish_confsync_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c confsync -n "__fish_confsync_using_subcommand demo" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand demo" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand demo" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand demo" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand demo" -l keep -d 'Keep the sample trees after the demo and print where they are'
complete -c confsync -n "__fish_confsync_using_subcommand demo" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand demo" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand demo" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand demo" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand man" -l dir -d 'Write every page (confsync.1, confsync-sync.1, ...) into this folder instead' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand man" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand man" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand man" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand man" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand man" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand man" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand man" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand man" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand completions" -l servers -d 'The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml]' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand completions" -l ca -d 'CA certificate (PEM) that issued the agents\' certificates; with --cert and --key, connect to agents with mutual TLS' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand completions" -l cert -d 'This client\'s certificate (PEM), issued by `confsync certs issue NAME --role admin`' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand completions" -l key -d 'The private key of --cert (PEM)' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand completions" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand completions" -l insecure -d 'Allow plaintext to and from non-loopback addresses (logged as a warning). Without it, plaintext is refused anywhere but on loopback'
complete -c confsync -n "__fish_confsync_using_subcommand completions" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand completions" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "agent" -d 'Serve this server\'s tree to other agents and the CLI'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "wizard" -d 'Step by step: pick source, destination and categories, review, confirm, apply'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "diff" -d 'Show what would change on DST to make it equal SRC (exit 1 when they differ)'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "sync" -d 'Make one or more destinations equal the source, after showing the differences'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "export" -d 'Write a source\'s tree to one bundle file, for a destination that cannot reach it'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "import" -d 'Apply a bundle file to a destination, as a sync from the bundle\'s origin'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "manifest" -d 'Take a destination\'s manifest, to export a delta bundle that carries only what it lacks'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "servers" -d 'Keep the list of servers, and see them all live (inventory, last sync, in step?)'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "status" -d 'One row per server against the primary: in sync, pending, edited locally, held, unreachable..., each with the command that fixes it (exit 0 in sync, 1 not, 3 unreachable)'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "auto" -d 'Keep destinations following a source: on a schedule, on change, or both'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "history" -d 'List the applies recorded on a server, newest first'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "rollback" -d 'Restore a server to its state before a kept generation'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "verify" -d 'Read every file of a server again, ignoring its index, and report what does not match (exit 1); with --against, compare it with a source read back too'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "hold" -d 'Make a server refuse every apply until released (maintenance, upgrades)'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "release" -d 'Let a held server accept applies again'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "confirm" -d 'Confirm a generation applied with `sync --confirm-within`, so that it stands'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "certs" -d 'Create a certificate authority and issue agent and admin certificates'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "demo" -d 'Start two sample servers on this machine and synchronize them'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "man" -d 'Print a manual page (roff), generated from the same definitions as --help: the top page, one command\'s, or every page into a folder'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent wizard diff sync export import manifest servers status auto history rollback verify hold release confirm certs demo man completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c confsync -n "__fish_confsync_using_subcommand help; and __fish_seen_subcommand_from servers" -f -a "add" -d 'Add a server to the list (or change it); with --ca/--cert/--key, store the certificate to reach it with'
complete -c confsync -n "__fish_confsync_using_subcommand help; and __fish_seen_subcommand_from servers" -f -a "remove" -d 'Remove a server from the list'
complete -c confsync -n "__fish_confsync_using_subcommand help; and __fish_seen_subcommand_from servers" -f -a "list" -d 'Ask every listed server at once and print one table'
complete -c confsync -n "__fish_confsync_using_subcommand help; and __fish_seen_subcommand_from servers" -f -a "show" -d 'Everything one server reports about itself'
complete -c confsync -n "__fish_confsync_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "init" -d 'Create a certificate authority: DIR/ca.pem (give it to every agent and admin) and DIR/ca.key (keep it on this machine only)'
complete -c confsync -n "__fish_confsync_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "issue" -d 'Issue a certificate and key signed by the CA in DIR: DIR/NAME.pem and DIR/NAME.key'
