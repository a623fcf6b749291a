# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_confsync_global_optspecs
    string join \n v/verbose h/help V/version
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

complete -c confsync -n "__fish_confsync_needs_command" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_needs_command" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_needs_command" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "agent" -d 'Serve this server\'s tree to other agents and the CLI'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "diff" -d 'Show what would change on DST to make it equal SRC (exit 1 when they differ)'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "sync" -d 'Make one or more destinations equal the source, after showing the differences'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "demo" -d 'Start two sample servers on this machine and synchronize them'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c confsync -n "__fish_confsync_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l root -d 'Serve DIR/{firmware,capdb,modules,config}; DIR/licenses stays untouched and DIR/.confsync holds the agent\'s state' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l config -d 'Read name, paths, protection and more from this agent.toml' -r -F
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l listen -d 'Address to listen on [default: 127.0.0.1:7420]' -r
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l name -d 'The server\'s name in plans and history [default: the hostname]' -r
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l keep-generations -d 'How many applied generations to keep for rollback [default: 5]' -r
complete -c confsync -n "__fish_confsync_using_subcommand agent" -l protected -d 'Refuse every apply unless the client passes --allow-protected (for a primary)'
complete -c confsync -n "__fish_confsync_using_subcommand agent" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand agent" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand agent" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l from -d 'The source server: an address as host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l only -d 'Only these categories, comma separated (firmware, capdb, modules, config). Licenses are never synchronized' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l to -d 'The destination server: an address as host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l max-delete -d 'Refuse plans deleting more than this percentage of a category\'s entries (0: no limit)' -r
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l json -d 'Print machine-readable JSON instead of text'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l all -d 'List every path, not only the first ones of each category'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l allow-empty-source -d 'Allow an empty source category to empty the destination\'s'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -l allow-protected -d 'Write to a server marked protected'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand diff" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l from -d 'The source server: an address as host:port' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l only -d 'Only these categories, comma separated (firmware, capdb, modules, config). Licenses are never synchronized' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l to -d 'Destination servers, comma separated: host:port[,host:port...]' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l plan -d 'Apply only if the plan is still exactly this one (the digest `diff --json` printed)' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l max-delete -d 'Refuse plans deleting more than this percentage of a category\'s entries (0: no limit)' -r
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l json -d 'Print machine-readable JSON instead of text'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l all -d 'List every path, not only the first ones of each category'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -s y -l yes -d 'Apply without asking (for scripts and cron)'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l dry-run -d 'Show the differences and stop'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l allow-empty-source -d 'Allow an empty source category to empty the destination\'s'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -l allow-protected -d 'Write to a server marked protected'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand sync" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand demo" -l keep -d 'Keep the sample trees after the demo and print where they are'
complete -c confsync -n "__fish_confsync_using_subcommand demo" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand demo" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand demo" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand completions" -s v -l verbose -d 'More log output: -v for info, -vv for debug (RUST_LOG overrides)'
complete -c confsync -n "__fish_confsync_using_subcommand completions" -s h -l help -d 'Print help'
complete -c confsync -n "__fish_confsync_using_subcommand completions" -s V -l version -d 'Print version'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent diff sync demo completions help" -f -a "agent" -d 'Serve this server\'s tree to other agents and the CLI'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent diff sync demo completions help" -f -a "diff" -d 'Show what would change on DST to make it equal SRC (exit 1 when they differ)'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent diff sync demo completions help" -f -a "sync" -d 'Make one or more destinations equal the source, after showing the differences'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent diff sync demo completions help" -f -a "demo" -d 'Start two sample servers on this machine and synchronize them'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent diff sync demo completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c confsync -n "__fish_confsync_using_subcommand help; and not __fish_seen_subcommand_from agent diff sync demo completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
