#!/bin/sh
# SPDX-License-Identifier: MIT
# A tiny wagate exec hook: reads the received message as one line of JSON on stdin (the
# `message.received` event data) and prints the reply on stdout. Plain POSIX sh + sed.
#   {"account":"default","cursor":1,"chat":"15550002@s.whatsapp.net",...,"text":"hello"}
#   -> echo: hello
# Configure it with {"hooks":{"exec":{"command":"/path/to/echo-bot.sh"}}}.
IFS= read -r msg || [ -n "$msg" ] || exit 0

# "text" is the last key wagate writes; no "text" (not a text message) -> no reply.
text=$(printf '%s\n' "$msg" | sed -n 's/.*"text":"\(.*\)"}$/\1/p')
[ -n "$text" ] || exit 0

# Undo the JSON escapes (\\ first, through a byte that never appears raw in JSON text).
soh=$(printf '\001')
text=$(printf '%s\n' "$text" | sed -e "s/\\\\\\\\/$soh/g" -e 's/\\"/"/g' -e 's/\\\//\//g' \
  -e 's/\\t/	/g' -e 's/\\n/\
/g' -e 's/\\r//g' -e "s/$soh/\\\\/g")
printf 'echo: %s\n' "$text"
