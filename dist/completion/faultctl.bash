# bash completion for faultctl (installed into
# <prefix>/share/bash-completion/completions/faultctl).
_faultctl() {
  local cur prev words cword
  _init_completion 2>/dev/null || {
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  }
  local commands="status members services faults incidents incident checks alerts devices logs
    start stop restart maintenance reload circuit degradation failback inject state
    strategies chaos help"
  local types="network_timeout service_unavailable data_inconsistency resource_exhaustion
    security_violation hardware_failure software_error"
  local severities="low medium high critical"
  case "$prev" in
    --node|--token-file|--timeout|--limit|--since|--component|--detail|--metric|--reason|--gateway|-n)
      [ "$prev" = --token-file ] && COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
    --type) COMPREPLY=($(compgen -W "$types" -- "$cur")); return ;;
    --severity) COMPREPLY=($(compgen -W "$severities" -- "$cur")); return ;;
  esac
  # The command is the first word that is not an option or an option's value.
  local i cmd="" sub=""
  for ((i = 1; i < cword; i++)); do
    case "${words[i]}" in
      --node|--token-file|--timeout) ((i++)) ;;
      -*) ;;
      *) if [ -z "$cmd" ]; then cmd="${words[i]}"; elif [ -z "$sub" ]; then sub="${words[i]}"; fi ;;
    esac
  done
  if [ -z "$cmd" ]; then
    COMPREPLY=($(compgen -W "$commands --node --token-file --json --timeout" -- "$cur"))
    return
  fi
  case "$cmd" in
    incident) [ -z "$sub" ] && COMPREPLY=($(compgen -W "ack close" -- "$cur")) ;;
    incidents) COMPREPLY=($(compgen -W "--limit --open" -- "$cur")) ;;
    faults) COMPREPLY=($(compgen -W "--since --limit" -- "$cur")) ;;
    alerts) COMPREPLY=($(compgen -W "--limit" -- "$cur")) ;;
    devices) COMPREPLY=($(compgen -W "--silent --gateway" -- "$cur")) ;;
    logs) COMPREPLY=($(compgen -W "-n -f" -- "$cur")) ;;
    maintenance) [ -n "$sub" ] && COMPREPLY=($(compgen -W "on off" -- "$cur")) ;;
    circuit) [ -n "$sub" ] && COMPREPLY=($(compgen -W "open close reset" -- "$cur")) ;;
    state) [ -z "$sub" ] && COMPREPLY=($(compgen -W "get put del list report snapshot snapshots restore sync" -- "$cur"))
           [ "$sub" = restore ] && COMPREPLY=($(compgen -W "--prefix" -- "$cur")) ;;
    chaos) [ -z "$sub" ] && COMPREPLY=($(compgen -W "list-actors crash-actor" -- "$cur")) ;;
    inject) COMPREPLY=($(compgen -W "--type --component --severity --node --detail --metric --dry-run" -- "$cur")) ;;
  esac
}
complete -F _faultctl faultctl
