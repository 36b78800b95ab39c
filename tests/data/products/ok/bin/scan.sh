#!/bin/sh
echo scanning "$@"
