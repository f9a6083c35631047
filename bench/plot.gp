# bench/plot.gp - the benchmark's plot: for each scenario, one bar per
# server, its throughput as a ratio to the baseline's in the same run, and
# a dashed line at 1.0 (the baseline).
#
#   gnuplot -e "datafile='plot.dat'; outfile='latest.svg'; ncols=8; \
#               subtitle='...'" bench/plot.gp
#
# bench/run.sh writes the data file: a header line of quoted server names,
# then one line per scenario, its quoted name and one ratio per server,
# "?" where there is none (not installed, n/a, failed).  ncols counts the
# columns, the scenario's included.
if (!exists("subtitle")) subtitle = ""

set terminal svg size 960,480 dynamic font "sans,11" background "white"
set output outfile
set datafile missing "?"
set title "netlabd benchmark: throughput as a ratio to the baseline\n{/*0.8 ".subtitle."}"
set ylabel "ratio to the baseline (higher is faster)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set grid ytics
set key outside right top vertical
set xtics nomirror
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linewidth 1.5 linecolor "black" front

plot for [i=2:ncols] datafile using i:xtic(1) title columnheader(i)
