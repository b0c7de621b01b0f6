#!/usr/bin/perl
# Generates the per-header part of the reference (Asciidoctor) from the public headers'
# doc comments: `//!` and `/*! */` before a declaration, `//!<` after a member. Every
# public header (all of include/ but detail/) gets a section: its one-line summary, then
# each documented entity with its signature (as written in the header) and its comment.
# Entities inside `namespace detail` are internals and are left out.
#
# Usage: perl build/doc_reference.pl INCLUDE_DIR > reference_headers.adoc
# Only perl-base (Debian's essential perl) is needed.
use strict;
use warnings;

my $inc = shift or die "usage: doc_reference.pl INCLUDE_DIR\n";
$inc =~ s{/$}{};
my @files;
sub walk {
    my ($d) = @_;
    opendir(my $dh, $d) or die "cannot read $d: $!\n";
    for my $e (sort readdir $dh) {
        next if $e =~ /^\./;
        my $p = "$d/$e";
        if (-d $p) { walk($p) unless $e eq 'detail'; }
        elsif ($e =~ /\.hpp$/) { push @files, $p; }
    }
    closedir $dh;
}
walk($inc);
# mmsg.hpp first, then by path.
@files = sort { ($a =~ m{/mmsg\.hpp$} ? 0 : 1) <=> ($b =~ m{/mmsg\.hpp$} ? 0 : 1) or $a cmp $b } @files;

# Text of a doc comment -> Asciidoctor: paragraphs as text; tables, indented lines and
# requirement lists (written for a terminal) as literal blocks; "- " lines as a list.
sub render_text {
    my ($text, $cont) = @_; # $cont: attached to a list item (needs `+` before blocks)
    my @lines = split /\n/, $text;
    my @blocks; # [kind, [lines]]
    for my $l (@lines) {
        my $kind = $l =~ /^\s*$/ ? 'blank'
                 : $l =~ /^\s*\|/ || $l =~ /^\s{2,}\S/ && !(@blocks && $blocks[-1][0] eq 'item') ? 'literal'
                 : $l =~ /^\s*[-*] / ? 'item'
                 : 'para';
        # A continuation line of a list item (indented text after "- ...").
        if ($kind eq 'para' || $kind eq 'literal') {
            if (@blocks && $blocks[-1][0] eq 'item' && $l =~ /^\s+\S/ && $l !~ /^\s*\|/) { $kind = 'item+'; }
        }
        if ($kind eq 'blank') { push @blocks, ['blank', []]; next; }
        if ($kind eq 'item+') { $blocks[-1][1][-1] .= ' ' . trim($l); next; }
        if ($kind eq 'item') { push @blocks, ['item', [trim($l) =~ s/^[-*]\s+//r]]; next; }
        if (@blocks && $blocks[-1][0] eq $kind && $kind ne 'item') { push @{$blocks[-1][1]}, $l; next; }
        push @blocks, [$kind, [$l]];
    }
    my @out;
    my $prev = '';
    for my $b (@blocks) {
        my ($k, $ls) = @$b;
        next if $k eq 'blank';
        my $sep = @out ? ($cont ? "+\n" : "\n") : '';
        if ($k eq 'para') {
            push @out, $sep . join(' ', map { esc(trim($_)) } @$ls) . "\n";
        } elsif ($k eq 'item') {
            my $lead = $prev eq 'item' ? '' : $sep;
            push @out, $lead . '* ' . esc($ls->[0]) . "\n";
        } else {
            my $min = 1e9;
            for (@$ls) { /^(\s*)/; $min = length $1 if length $1 < $min; }
            push @out, $sep . "....\n" . join('', map { substr($_, $min) . "\n" } @$ls) . "....\n";
        }
        $prev = $k;
    }
    return join('', @out);
}
# Removes the indentation common to the non-blank lines.
sub dedent {
    my @ls = @_;
    my $min = 1e9;
    for (@ls) { next unless /\S/; /^(\s*)/; $min = length $1 if length $1 < $min; }
    return map { /\S/ ? substr($_, $min) : '' } @ls;
}
sub trim { my $s = shift; $s =~ s/^\s+|\s+$//g; return $s; }
# Escapes what Asciidoctor would otherwise format in running text.
sub esc {
    my $s = shift;
    $s =~ s/`([^`]+)`/`+$1+`/g;          # inline code stays literal
    return $s;
}
# The name a declaration declares: class, concept, alias, enum, variable or function.
sub entity_name {
    my $s = shift;
    # Drop a leading template parameter list (balanced angle brackets).
    if ($s =~ /^template\s*</) {
        my ($depth, $k) = (0, index($s, '<'));
        for (; $k < length $s; $k++) {
            my $c = substr($s, $k, 1);
            $depth++ if $c eq '<';
            $depth-- if $c eq '>';
            last if $depth == 0;
        }
        $s = substr($s, $k + 1);
        $s =~ s/^\s*requires\s+[^(]*?(?=\s\w+\s*\()//; # a leading requires-clause
    }
    return $1 if $s =~ /^\s*concept\s+(\w+)/;
    return $1 if $s =~ /^\s*using\s+(\w+)/;
    return $1 if $s =~ /^\s*enum\s+(?:class\s+|struct\s+)?(\w+)/;
    return $1 if $s =~ /(operator\s*\S+?|~?\w+)\s*\(/;
    return $1 if $s =~ /(\w+)\s*(?:=|\{|;|$)/;
    return $s;
}

sub sig {
    my $d = shift;
    $d =~ s/\[\[[^\]]*\]\]\s*//g;        # attributes are noise here
    $d =~ s/\s+/ /g;
    $d = trim($d);
    $d =~ s/\s*\{\s*\}?$//;
    $d =~ s/\s*=\s*default$/ = default/;
    return $d;
}

for my $f (@files) {
    open(my $fh, '<', $f) or die "cannot read $f: $!\n";
    my @src = <$fh>;
    close $fh;
    chomp @src;
    (my $rel = $f) =~ s{^\Q$inc\E/}{};
    my @summary;
    my $i = 0;
    while ($i < @src && $src[$i] =~ m{^//!\s?(.*)$}) { push @summary, $1; $i++; }
    my $anchor = $rel =~ s{[/.]}{_}gr;
    print "[#ref_$anchor]\n=== `<$rel>`\n\n";
    print render_text(join("\n", @summary), 0), "\n" if @summary;

    my $depth = 0;           # brace depth
    my @detail;              # depths at which a `namespace detail {` opened
    my @classes;             # [depth inside the class body, name]
    my @doc;                 # pending doc comment lines
    my $entries = 0;
    my $last_heading = '';
    my %seen;
    my $in_block = 0;
    my @block;
    my $skip_macro = 0;
    for (; $i < @src; $i++) {
        my $l = $src[$i];
        if ($skip_macro) { $skip_macro = $l =~ /\\$/; next; }
        if ($in_block) {
            if ($l =~ m{^(.*?)\*/}) { push @block, $1 if $1 =~ /\S/; $in_block = 0; push @doc, dedent(@block); @block = (); }
            else { push @block, $l; }
            next;
        }
        if ($l =~ m{^\s*/\*!\s?(.*)$}) {
            my $rest = $1;
            if ($rest =~ m{^(.*?)\s*\*/}) { push @doc, $1; } else { push @doc, $rest if length $rest; $in_block = 1; }
            next;
        }
        if ($l =~ m{^\s*//!<\s?(.*)$}) { next; } # continuation of a member comment: handled below
        if ($l =~ m{^\s*//!\s?(.*)$}) { push @doc, $1; next; }
        if ($l =~ /^\s*#/) { $skip_macro = $l =~ /\\$/; @doc = () unless $l =~ /^\s*#\s*(if|else|elif|endif)/; next; }
        my $code = $l =~ s{//.*$}{}r;
        my $in_detail = @detail > 0;
        if ($code =~ /^\s*namespace\s+detail\s*\{/) { push @detail, $depth; }
        # A documented declaration: gather it up to `{` or `;` at parenthesis depth 0.
        my $member_doc;
        if ($l =~ m{//!<\s?(.*)$}) {
            my @m = ($1);
            while ($i + 1 < @src && $src[$i + 1] =~ m{^\s*//!<\s?(.*)$}) { push @m, $1; $i++; }
            $member_doc = join("\n", @m);
        }
        if ((@doc || defined $member_doc) && !$in_detail && $code =~ /\S/) {
            my $decl = $code;
            my $j = $i;
            my $paren = 0;
            my $whole = '';
            while (1) {
                my $t = $decl;
                my $stop;
                for my $c (split //, $t) {
                    if ($c eq '(') { $paren++; }
                    elsif ($c eq ')') { $paren--; }
                    elsif ($paren == 0 && ($c eq '{' || $c eq ';')) { $stop = $c; last; }
                    $whole .= $c;
                }
                if ($stop) {
                    if ($stop eq '{' && $whole =~ /^\s*enum\b/) {
                        # Keep the enumerators: they are the interface.
                        my $body = $t =~ s/^[^{]*\{//r;
                        while ($body !~ /\}/ && $j + 1 < @src) { $j++; $body .= ' ' . ($src[$j] =~ s{//.*$}{}r); }
                        $body =~ s/\}.*$//;
                        $whole .= '{ ' . trim($body =~ s/\s+/ /gr) . ' }';
                    } elsif ($stop eq ';' && $whole =~ /=\s*$/) {
                        $whole .= ';';
                    }
                    last;
                }
                last if $j + 1 >= @src;
                $j++;
                $decl = ' ' . ($src[$j] =~ s{//.*$}{}r);
                $whole .= ' ' if $whole !~ /\s$/;
            }
            my $s = sig($whole);
            # Constructor initialiser lists are implementation.
            $s =~ s/\)\s*:\s*[A-Za-z_]\w*[({].*$/)/;
            $s =~ s/\s+:\s+[a-z_]\w*_[({].*$//;
            my $text = defined $member_doc ? $member_doc : join("\n", @doc);
            my $is_class = $s =~ /^(template\s*<.*>\s*)?(class|struct)\s+(\w+)/ && $s !~ /\(/;
            my $name = '';
            if ($is_class) { while ($s =~ /(?:class|struct)\s+(\w+)/g) { $name = $1; } }
            if ($s !~ /^static_assert/ && $s ne '') {
                if (@classes == 0) {
                    # A namespace-level entity: its own heading (overloads share one).
                    my $n = $is_class ? $name : entity_name($s);
                    if ($n ne $last_heading) {
                        my $id = $n =~ s/\W/_/gr;
                        $id .= '_' . ++$seen{"$anchor$id"} if $seen{"$anchor$id"};
                        $seen{"$anchor$id"} //= 1;
                        print "[#ref_${anchor}_$id]\n==== `$n`\n\n";
                        $last_heading = $n;
                    }
                    print "`+$s+`\n\n";
                    print render_text($text, 0), "\n";
                } else {
                    print "`+$s+`::\n", render_text($text, 1), "\n";
                }
                $entries++;
            }
            # Move on: the scanner below counts braces of the whole declaration.
            my $span = join("\n", map { s{//.*$}{}r } @src[$i .. $j]);
            $i = $j;
            @doc = ();
            my $open = () = $span =~ /\{/g;
            my $close = () = $span =~ /\}/g;
            if ($is_class && $open > $close) { push @classes, [$depth + 1, $name]; }
            $depth += $open - $close;
            pop @classes while @classes && $depth < $classes[-1][0];
            pop @detail while @detail && $depth <= $detail[-1];
            next;
        }
        @doc = () if $code =~ /\S/;
        # Undocumented class: its members are still the class's.
        if ($code =~ /^\s*(template\s*<.*>\s*)?(class|struct)\s+(\w+)[^;]*\{/ && !$in_detail) {
            push @classes, [$depth + 1, $3] if @classes == 0 || 1;
        }
        my $open = () = $code =~ /\{/g;
        my $close = () = $code =~ /\}/g;
        $depth += $open - $close;
        pop @classes while @classes && $depth < $classes[-1][0];
        pop @detail while @detail && $depth <= $detail[-1];
    }
    print "No documented entities of its own: it gathers or selects the ones listed elsewhere.\n\n"
        if $entries == 0;
}
