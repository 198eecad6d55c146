# Plots for bench/RESULTS.md, called by bench/compare:
#   gnuplot -e "datadir='DIR'; outdir='DIR'" bench/plot.gp
# DIR holds echo-SERVER.dat / chat-SERVER.dat (conns rate p50_ms p99_ms cpu_us_per_op)
# and memory.dat (server rss@1000 rss@10000 pss@1000 pss@10000), written by bench/compare.
set terminal pngcairo size 1400,520 font "sans,11" noenhanced
set datafile missing "NaN"
set key top left box opaque
set grid
set logscale x
set xrange [0.7:14000]
set xtics ("1" 1, "10" 10, "100" 100, "1,000" 1000, "10,000" 10000)
set xlabel "concurrent connections"
set style data linespoints

if (!exists("echo_servers")) { echo_servers = "socketd floor-echo xinetd socat" }
if (!exists("chat_servers")) { chat_servers = "socketd py-threaded py-asyncio" }
color(s) = s eq "socketd" ? "#d62728" : s eq "socketd-before" ? "#f4a3a3" : \
           s eq "floor-echo" ? "#444444" : s eq "floor-chat" ? "#888888" : s eq "xinetd" ? "#1f77b4" : \
           s eq "socat" ? "#2ca02c" : s eq "py-threaded" ? "#9467bd" : "#ff7f0e"

if (!exists("has_echo")) { has_echo = 1 }
if (!exists("has_chat")) { has_chat = 1 }
if (!exists("has_mem")) { has_mem = 1 }

if (has_echo || has_chat) { do for [m in "rate p99 cpu"] {
  set output outdir."/".m.".png"
  col = m eq "rate" ? 2 : m eq "p99" ? 4 : 5
  set multiplot layout 1,(has_echo + has_chat)
  set logscale y
  if (m eq "rate") { set ylabel "round trips/s (closed loop)"; set format y "%.0s%c" }
  if (m eq "p99") { set ylabel "p99 latency (ms)"; set format y "%g" }
  if (m eq "cpu") { set ylabel "server CPU per round trip (µs)"; set format y "%g" }
  # a ring marks cells where >= 10% of the connections starved (column 6)
  if (has_echo) {
    set title "echo, 64 bytes"
    plot for [s in echo_servers] datadir."/echo-".s.".dat" using 1:col title s lw 2 pt 7 lc rgb color(s), \
         for [s in echo_servers] datadir."/echo-".s.".dat" using 1:($6 >= 0.1 ? column(col) : NaN) \
             with points pt 6 ps 2.6 lw 1.5 lc rgb "black" notitle, \
         NaN with points pt 6 ps 2 lw 1.5 lc rgb "black" title ">= 10% starved"
  }
  if (has_chat) {
    set title "chat, 64 bytes"
    plot for [s in chat_servers] datadir."/chat-".s.".dat" using 1:col title s lw 2 pt 7 lc rgb color(s), \
         for [s in chat_servers] datadir."/chat-".s.".dat" using 1:($6 >= 0.1 ? column(col) : NaN) \
             with points pt 6 ps 2.6 lw 1.5 lc rgb "black" notitle, \
         NaN with points pt 6 ps 2 lw 1.5 lc rgb "black" title ">= 10% starved"
  }
  unset multiplot
} }
if (!has_mem) { exit }

reset
set terminal pngcairo size 1100,540 font "sans,11" noenhanced
set output outdir."/memory.png"
set datafile missing "NaN"
set title "user-space memory per idle connection (RSS growth of one process, PSS growth of a process tree; log scale)"
set ylabel "KiB per connection"
set logscale y
set yrange [0.01:1000]
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key top left
clamp(x) = (x != x) ? NaN : (x < 0.01 ? 0.01 : x)
lab(x) = (x != x) ? "" : (x >= 10 ? sprintf("%.0f", x) : sprintf("%.2g", x))
plot datadir."/memory.dat" using (clamp($2)):xtic(1) title "1,000 connections" lc rgb "#3182bd", \
     "" using (clamp($3)) title "10,000 connections" lc rgb "#e6550d", \
     "" using ($0-0.15):(clamp($2)):(lab($2)) with labels offset 0,0.7 font ",9" notitle, \
     "" using ($0+0.15):(clamp($3)):(lab($3)) with labels offset 0,0.7 font ",9" notitle
