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
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
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
'--protected[Refuse every apply unless the client passes --allow-protected (for a primary)]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(diff)
_arguments "${_arguments_options[@]}" : \
'--from=[The source server\: an address as host\:port]:SRC:_default' \
'--only=[Only these categories, comma separated (firmware, capdb, modules, config). Licenses are never synchronized]:CATS:_default' \
'--to=[The destination server\: an address as host\:port]:DST:_default' \
'--max-delete=[Refuse plans deleting more than this percentage of a category'\''s entries (0\: no limit)]:PERCENT:_default' \
'--json[Print machine-readable JSON instead of text]' \
'--all[List every path, not only the first ones of each category]' \
'--allow-empty-source[Allow an empty source category to empty the destination'\''s]' \
'--allow-protected[Write to a server marked protected]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(sync)
_arguments "${_arguments_options[@]}" : \
'--from=[The source server\: an address as host\:port]:SRC:_default' \
'--only=[Only these categories, comma separated (firmware, capdb, modules, config). Licenses are never synchronized]:CATS:_default' \
'--to=[Destination servers, comma separated\: host\:port\[,host\:port...\]]:DST[,DST...]:_default' \
'--plan=[Apply only if the plan is still exactly this one (the digest \`diff --json\` printed)]:DIGEST:_default' \
'--max-delete=[Refuse plans deleting more than this percentage of a category'\''s entries (0\: no limit)]:PERCENT:_default' \
'--json[Print machine-readable JSON instead of text]' \
'--all[List every path, not only the first ones of each category]' \
'-y[Apply without asking (for scripts and cron)]' \
'--yes[Apply without asking (for scripts and cron)]' \
'--dry-run[Show the differences and stop]' \
'--allow-empty-source[Allow an empty source category to empty the destination'\''s]' \
'--allow-protected[Write to a server marked protected]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(demo)
_arguments "${_arguments_options[@]}" : \
'--keep[Keep the sample trees after the demo and print where they are]' \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'*-v[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
'*--verbose[More log output\: -v for info, -vv for debug (RUST_LOG overrides)]' \
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
(diff)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(sync)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(demo)
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
'diff:Show what would change on DST to make it equal SRC (exit 1 when they differ)' \
'sync:Make one or more destinations equal the source, after showing the differences' \
'demo:Start two sample servers on this machine and synchronize them' \
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
(( $+functions[_confsync__subcmd__completions_commands] )) ||
_confsync__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'confsync completions commands' commands "$@"
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
(( $+functions[_confsync__subcmd__help_commands] )) ||
_confsync__subcmd__help_commands() {
    local commands; commands=(
'agent:Serve this server'\''s tree to other agents and the CLI' \
'diff:Show what would change on DST to make it equal SRC (exit 1 when they differ)' \
'sync:Make one or more destinations equal the source, after showing the differences' \
'demo:Start two sample servers on this machine and synchronize them' \
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
(( $+functions[_confsync__subcmd__help__subcmd__completions_commands] )) ||
_confsync__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help completions commands' commands "$@"
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
(( $+functions[_confsync__subcmd__help__subcmd__help_commands] )) ||
_confsync__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help help commands' commands "$@"
}
(( $+functions[_confsync__subcmd__help__subcmd__sync_commands] )) ||
_confsync__subcmd__help__subcmd__sync_commands() {
    local commands; commands=()
    _describe -t commands 'confsync help sync commands' commands "$@"
}
(( $+functions[_confsync__subcmd__sync_commands] )) ||
_confsync__subcmd__sync_commands() {
    local commands; commands=()
    _describe -t commands 'confsync sync commands' commands "$@"
}

if [ "$funcstack[1]" = "_confsync" ]; then
    _confsync "$@"
else
    compdef _confsync confsync
fi
