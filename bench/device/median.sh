# SPDX-License-Identifier: MIT
# bench/device/median.sh - sourced by run.sh and profile.sh: median of the numbers on
# standard input (blank- or newline-separated), "n/a" when there are none.
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{if(NR==0)print "n/a"; else if(NR%2)print a[(NR+1)/2]; else printf "%.3f\n",(a[NR/2]+a[NR/2+1])/2}'; }
