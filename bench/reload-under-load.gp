# Per-second chat p99 under 1,000 connections with a reload every 2 s, from
#   bench/reload-under-load --repeat N --data FILE
#   gnuplot -e "data='FILE'; out='bench/plots/reload-under-load.png'; runs=N" bench/reload-under-load.gp
# FILE: "run t rate p50_ms p99_ms reload(0/1)", one block (index) per run.
set terminal pngcairo size 1100,480 font "sans,11" noenhanced
set output out
set key top left box opaque
set grid
set xlabel "seconds into the run"
set ylabel "p99 of that second (ms)"
set yrange [0:*]
set title "chat -c 1000, closed loop, SIGHUP reload (hello moves port) every 2 s from t = 4.5 s; filled = second with a reload"
if (!exists("runs")) { runs = 1 }
colors = "#d62728 #1f77b4 #2ca02c #9467bd #ff7f0e"
plot for [i=0:runs-1] data index i using 2:5 with lines lw 2 lc rgb word(colors, i+1) title sprintf("run %d", i+1), \
     for [i=0:runs-1] data index i using 2:($6 > 0 ? $5 : NaN) with points pt 7 ps 1.3 lc rgb word(colors, i+1) notitle, \
     for [i=0:runs-1] data index i using 2:($6 > 0 ? NaN : $5) with points pt 6 ps 1.3 lc rgb word(colors, i+1) notitle
