#!/usr/bin/env bash
# One sign-in with a code, as curl: ./signin.sh USER (make run serving on $BASE)
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8000}; U=$1; J=$(mktemp)
csrf() { grep csrftoken "$J" | awk '{print $7}'; }
curl -s -c "$J" -b "$J" "$BASE/signin/" -o /dev/null
curl -s -c "$J" -b "$J" -o /dev/null -w "password step: %{http_code} -> %{redirect_url}\n" \
  -H "Referer: $BASE/signin/" -d "csrfmiddlewaretoken=$(csrf)&username=$U&password=shift-start-coffee-42" "$BASE/signin/"
curl -s -c "$J" -b "$J" "$BASE/signin/code/" | grep -o "We sent a code by [a-zA-Z]* to <strong>[^<]*" | sed 's/<strong>//'
CODE=$(curl -s "$BASE/outbox/" | grep -o "sign-in code is [0-9]\{6\}" | head -1 | grep -o "[0-9]\{6\}")
echo "code read from the outbox page: ${CODE//?/#}"
curl -s -c "$J" -b "$J" -o /dev/null -w "code step: %{http_code} -> %{redirect_url}\n" \
  -H "Referer: $BASE/signin/code/" -d "csrfmiddlewaretoken=$(csrf)&action=verify&code=$CODE" "$BASE/signin/code/"
curl -s -c "$J" -b "$J" "$BASE/account/" | grep -o "<h1>[^<]*</h1>"
