# Pinger p99 and max per phase, written by bench/neighbours --plot PNG:
#   gnuplot -e "data='FILE.dat'; out='FILE.png'" bench/neighbours.gp
# FILE.dat: build phase socketd_p50 socketd_p99 socketd_max control_p50 control_p99 control_max (ms)
set terminal pngcairo size 1400,520 font "sans,11" noenhanced
set output out
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set logscale y
set key below
set xtics rotate by -20
set multiplot layout 1,2 title "chat pinger round trips while uploads run in socketd or in a separate sink (control)"
set ylabel "p99 round trip (ms)"
set title "p99"
plot data using 4:xtic(sprintf("%s %s", strcol(1), strcol(2))) title "uploads in socketd" lc rgb "#d62728", \
     '' using 7 title "uploads in the control sink" lc rgb "#444444"
set ylabel "max round trip (ms)"
set title "max"
plot data using 5:xtic(sprintf("%s %s", strcol(1), strcol(2))) title "uploads in socketd" lc rgb "#d62728", \
     '' using 8 title "uploads in the control sink" lc rgb "#444444"
unset multiplot
