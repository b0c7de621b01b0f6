#!/bin/sh
# Prints, on one line and separated by spaces, the headers under the include directory $1
# (paths relative to it) that reach <boost/asio/ip/udp.hpp> through their own #include
# lines: directly, or through an mmsg header that does. The Jamfile checks those alone
# behind a precompiled <boost/asio/ip/udp.hpp> (see there). A header this misses is
# checked without it: slower, never weaker.
cd "$1" || exit 1
find mmsg -name '*.hpp' | sort | xargs awk '
    FNR == 1 { files[FILENAME] = 1 }
    /^[ \t]*#[ \t]*include[ \t]*<boost\/asio\/ip\/udp\.hpp>/ { reaches[FILENAME] = 1 }
    /^[ \t]*#[ \t]*include[ \t]*<mmsg\// {
        if (match($0, /<mmsg\/[^>]*>/)) edges[FILENAME] = edges[FILENAME] " " substr($0, RSTART + 1, RLENGTH - 2)
    }
    END {
        do {
            grew = 0
            for (f in files) {
                if (f in reaches) continue
                n = split(edges[f], to, " ")
                for (i = 1; i <= n; ++i)
                    if (to[i] in reaches) { reaches[f] = 1; grew = 1; break }
            }
        } while (grew)
        for (f in reaches) print f
    }' | sort | tr '\n' ' '
