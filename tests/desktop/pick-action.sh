#!/usr/bin/env bash
# dunst's "dmenu": it pipes a notification's actions here when its context
# menu opens (`dunstctl context`); we answer with the action named in
# $GATEHOUSE_SESSION/pick-action, as a person picking from the menu would.
menu=$(cat)
printf '%s\n' "$menu" >>"${GATEHOUSE_SESSION:?}/menus.log"
want=$(cat "$GATEHOUSE_SESSION/pick-action" 2>/dev/null || true)
printf '%s\n' "$menu" | grep -m1 -F "$want"
