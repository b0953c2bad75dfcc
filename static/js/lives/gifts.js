// Gifts in a live (docs/realtime.md, "Gifts"), on the viewer page (lives/_gifts.html)
// and in the host's studio (studio/_gifts.html): the gift picker, the animations over
// the video, the LIVE goal bar, the top gifters, and for the host the goal form, the
// gifts arriving and what they earned.
//
// It shares the live room's one connection (window.LiveLiteRoom.connect from room.js,
// loaded first). The server decides everything: the price, the balance, who may
// receive. Each gift the person means to send gets its own idempotency key; a retry of
// the same gift after a lost answer reuses it, so it is never charged twice. Names go
// in through textContent, never as HTML; sentences come from data-* attributes that
// the templates render in the reader's language (CSP: no inline script or style).
(function () {
  "use strict";

  var root = document.querySelector("[data-gifts]");
  if (!root || !window.io || !window.LiveLiteRoom) return;

  var d = root.dataset;
  var isStudio = d.mode === "studio";
  var lang = document.documentElement.lang || "en";
  var numbers = new Intl.NumberFormat(lang);
  var lessMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : { matches: false };
  var ACK_TIMEOUT = 10000;
  var BANNER_MS = 3200;      // a banner stays this long after its last gift
  var MAX_WAITING = 40;      // banners waiting their turn; the cheapest go first when full
  var MAX_EFFECTS_WAITING = 8;
  var EFFECT_MS = { burst: 1900, rain: 3400, fullscreen: 3800 };

  function $(sel) { return root.querySelector(sel); }
  function all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }

  // -- the page's parts -------------------------------------------------------------
  var picker = $("[data-gift-picker]");
  var form = $("[data-gift-form]");
  var grid = $("[data-gift-grid]");
  var noneNote = $("[data-gift-none]");
  var receiverBox = $("[data-gift-receivers]");
  var receiverList = $("[data-gift-receiver-list]");
  var quantity = $("[data-gift-quantity]");
  var totalLine = $("[data-gift-total]");
  var sendButton = $("[data-gift-send]");
  var errorLine = $("[data-gift-error]");
  var statusLine = $("[data-gift-status]");
  var balanceNode = $("[data-gift-balance]");
  var announcer = $("[data-gift-announce]");
  var coinTemplate = $("[data-gift-coin-template]");
  var openers = all("[data-gift-open]");
  var topLists = all("[data-gift-top]");
  var topEmpties = all("[data-gift-top-empty]");
  var goalBox = document.querySelector("[data-gift-goal]");
  var stage = document.querySelector("[data-gift-stage]");
  var bannersBox = stage && stage.querySelector("[data-gift-banners]");
  var effectsBox = stage && stage.querySelector("[data-gift-effects]");
  // The studio's own.
  var goalForm = $("[data-goal-form]");
  var feed = $("[data-gift-feed]");
  var feedEmpty = $("[data-gift-feed-empty]");

  // -- what the server told us --------------------------------------------------------
  var socket = null;
  var catalogue = [];
  var receivers = [];
  var top = [];
  var goal = { target: null, label: "", progress: 0 };
  var you = { user_id: null, coins: null };
  var chosenGift = null, chosenReceiver = null;
  var pending = null;        // {signature, key}: a gift sent whose answer never came
  var ended = false;
  var opener = null;

  // -- small helpers -------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function fill(pattern, values) {
    return String(pattern || "").replace(/\{(\w+)\}/g, function (whole, key) {
      return key in values ? values[key] : whole;
    });
  }

  function plural(key, n) {
    var one = new Intl.PluralRules(lang).select(n) === "one";
    return fill(d[key + (one ? "One" : "Other")], { n: numbers.format(n) });
  }

  function say(node, text) { if (node) node.textContent = text || ""; }
  function nameOf(user) { return user ? (user.display_name || user.username) : d.labelAnonymous; }
  function isHostUser(user) { return !!user && String(user.id) === String(d.hostId); }

  function coinIcon() {
    return coinTemplate ? coinTemplate.content.firstElementChild.cloneNode(true) : el("span");
  }

  function avatarNode(user, className) {
    if (user && user.avatar_url) {
      var img = el("img", "avatar " + className);
      img.src = user.avatar_url;
      img.alt = "";
      img.loading = "lazy";
      return img;
    }
    var initial = el("span", "avatar avatar-initial " + className, nameOf(user).slice(0, 1).toUpperCase());
    initial.setAttribute("aria-hidden", "true");
    return initial;
  }

  function giftIcon(gift, className) {
    var img = el("img", className);
    img.src = gift.icon_url;
    img.alt = "";
    img.decoding = "async";
    return img;
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function send(event, payload, done) {
    if (!socket) return;
    socket.timeout(ACK_TIMEOUT).emit(event, payload, function (err, reply) {
      if (err || !reply) reply = { ok: false, code: "timeout", error: d.msgTimeout };
      if (done) done(reply);
    });
  }

  // -- the picker ----------------------------------------------------------------------
  function giftById(id) {
    for (var i = 0; i < catalogue.length; i++) if (catalogue[i].id === id) return catalogue[i];
    return null;
  }

  function drawCatalogue() {
    if (!grid) return;
    if (!giftById(chosenGift)) chosenGift = catalogue.length ? catalogue[0].id : null;
    grid.replaceChildren();
    catalogue.forEach(function (gift) {
      var label = el("label", "gift-option");
      var input = el("input", "gift-option-input");
      input.type = "radio";
      input.name = "gift";
      input.value = gift.id;
      input.checked = gift.id === chosenGift;
      input.addEventListener("change", function () { chosenGift = gift.id; drawTotal(); });
      label.appendChild(input);
      var icon = giftIcon(gift, "gift-option-icon");
      icon.width = 48;
      icon.height = 48;
      label.appendChild(icon);
      label.appendChild(el("span", "gift-option-name", gift.name));
      var cost = el("span", "gift-option-cost");
      var figure = el("span", null, numbers.format(gift.coins));
      figure.setAttribute("aria-hidden", "true");
      cost.appendChild(coinIcon());
      cost.appendChild(figure);
      cost.appendChild(el("span", "visually-hidden", plural("labelCoins", gift.coins)));
      label.appendChild(cost);
      grid.appendChild(label);
    });
    if (noneNote) noneNote.hidden = catalogue.length > 0;
    drawTotal();
  }

  function drawReceivers() {
    if (!receiverList) return;
    var ids = receivers.map(function (r) { return r.id; });
    if (ids.indexOf(chosenReceiver) < 0) chosenReceiver = ids.length ? ids[0] : null;
    // Only the host: nobody to choose between.
    receiverBox.hidden = receivers.length < 2;
    receiverList.replaceChildren();
    receivers.forEach(function (person) {
      var label = el("label", "gift-receiver");
      var input = el("input", "gift-receiver-input");
      input.type = "radio";
      input.name = "receiver";
      input.value = person.id;
      input.checked = person.id === chosenReceiver;
      input.disabled = person.id === you.user_id;
      input.addEventListener("change", function () { chosenReceiver = person.id; });
      label.appendChild(input);
      label.appendChild(avatarNode(person, "gift-receiver-avatar"));
      label.appendChild(el("span", "gift-receiver-name", nameOf(person)));
      if (isHostUser(person)) label.appendChild(el("span", "room-role room-role-host", d.labelHost));
      receiverList.appendChild(label);
    });
  }

  function drawBalance() {
    say(balanceNode, you.coins == null ? "–" : numbers.format(you.coins));
    drawTotal();
  }

  function drawTotal() {
    if (!totalLine) return;
    var gift = giftById(chosenGift);
    if (!gift) { say(totalLine, ""); return; }
    var total = gift.coins * Number(quantity.value || 1);
    var short = you.coins != null && total > you.coins;
    totalLine.classList.toggle("is-short", short);
    totalLine.textContent = fill(d.fmtTotal, { coins: plural("labelCoins", total) });
    if (short) {
      totalLine.appendChild(document.createTextNode(" "));
      totalLine.appendChild(el("span", "gift-short", d.msgShort));
    }
  }

  function drawOpeners() {
    openers.forEach(function (button) { button.disabled = ended; });
  }

  function openPicker(from) {
    if (!picker || ended) return;
    opener = from || null;
    say(errorLine, "");
    say(statusLine, "");
    drawCatalogue();
    drawReceivers();
    drawBalance();
    picker.showModal();
    var checked = grid.querySelector("input:checked") || grid.querySelector("input");
    if (checked) checked.focus();
    // Fresh prices, stage and balance (a grant may have come since the page opened).
    send("gift_state", {}, function (reply) { if (reply.ok) applyState(reply, reply.coins); });
  }

  function closePicker() { if (picker && picker.open) picker.close(); }

  openers.forEach(function (button) {
    button.addEventListener("click", function () { openPicker(button); });
  });

  if (picker) {
    $("[data-gift-close]").addEventListener("click", closePicker);
    picker.addEventListener("close", function () {
      if (opener && opener.isConnected && !opener.disabled) opener.focus();
      opener = null;
    });
    // A click on the backdrop (outside the form) closes it, as people expect.
    picker.addEventListener("click", function (event) { if (event.target === picker) closePicker(); });
    quantity.addEventListener("change", drawTotal);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (sendButton.disabled || ended) return;
      var gift = giftById(chosenGift);
      if (!gift || chosenReceiver == null) { say(errorLine, d.msgChoose); return; }
      var payload = { receiver_id: chosenReceiver, gift_id: gift.id, quantity: Number(quantity.value) };
      var signature = [payload.receiver_id, payload.gift_id, payload.quantity].join(":");
      // The same gift again after an answer that never came: the same key, so the
      // server answers with the first send instead of charging twice.
      if (!pending || pending.signature !== signature) pending = { signature: signature, key: newKey() };
      payload.idempotency_key = pending.key;
      sendButton.disabled = true;
      say(errorLine, "");
      say(statusLine, "");
      send("gift_send", payload, function (reply) {
        sendButton.disabled = false;
        if (reply.code === "timeout") { say(errorLine, reply.error); return; }
        pending = null;
        if (!reply.ok) {
          if (reply.balance != null) { you.coins = reply.balance; drawBalance(); }
          say(errorLine, reply.error);
          return;
        }
        you.coins = reply.balance;
        drawBalance();
        var sent = reply.gift_send;
        say(statusLine, fill(d.fmtSentOk, { gift: sent.gift.name, name: nameOf(sent.receiver) }) +
          (sent.combo > 1 ? " " + fill(d.fmtCombo, { n: sent.combo }) : ""));
      });
    });
  }

  // -- the animations over the video ----------------------------------------------------
  var banners = {};          // key -> {key, gift, combo, node, count, timer}
  var waiting = [];          // banners waiting for room
  var effects = [];          // big effects waiting their turn
  var effectPlaying = null;  // key of the big effect on screen

  function streakKey(g) {
    return [g.sender ? g.sender.id : 0, g.receiver ? g.receiver.id : 0, g.gift.id].join(":");
  }

  function room() { return bannersBox && stage.clientHeight >= 300 ? 2 : 1; }
  function shownCount() { return Object.keys(banners).length; }

  function sentence(g, combo) {
    var values = { sender: nameOf(g.sender), gift: g.gift.name, receiver: nameOf(g.receiver), n: combo };
    return fill(combo > 1 ? d.fmtAnnounceMany : d.fmtAnnounce, values);
  }

  function onGift(g) {
    if (isStudio) addToFeed(g);
    var key = streakKey(g);
    var shown = banners[key];
    if (shown) { bump(shown, g); return; }
    for (var i = 0; i < waiting.length; i++) {
      if (waiting[i].key === key) {
        waiting[i].gift = g;
        waiting[i].combo = Math.max(waiting[i].combo, g.combo);
        return;
      }
    }
    var record = { key: key, gift: g, combo: g.combo };
    if (!bannersBox || document.hidden) { announce(record); return; }
    if (shownCount() < room()) show(record);
    else {
      waiting.push(record);
      if (waiting.length > MAX_WAITING) {
        // A crowd of gifts: the cheapest waiting one makes way.
        var cheapest = 0;
        waiting.forEach(function (r, index) { if (r.gift.coins < waiting[cheapest].gift.coins) cheapest = index; });
        waiting.splice(cheapest, 1);
      }
    }
  }

  function announce(record) {
    say(announcer, sentence(record.gift, record.combo));
  }

  function show(record) {
    var g = record.gift;
    var node = el("div", "gift-banner");
    node.appendChild(avatarNode(g.sender, "gift-banner-avatar"));
    var text = el("div", "gift-banner-text");
    text.appendChild(el("strong", "gift-banner-name", nameOf(g.sender)));
    var what = isHostUser(g.receiver)
      ? fill(d.fmtSent, { gift: g.gift.name })
      : fill(d.fmtSentTo, { gift: g.gift.name, name: nameOf(g.receiver) });
    text.appendChild(el("span", "gift-banner-what", what));
    node.appendChild(text);
    node.appendChild(giftIcon(g.gift, "gift-banner-icon"));
    record.count = el("span", "gift-banner-count", fill(d.fmtCombo, { n: record.combo }));
    node.appendChild(record.count);
    record.node = node;
    banners[record.key] = record;
    bannersBox.appendChild(node);
    announce(record);
    hold(record);
    startEffect(g, record.key);
  }

  function bump(record, g) {
    record.combo = Math.max(record.combo, g.combo);
    record.gift = g;
    record.count.textContent = fill(d.fmtCombo, { n: record.combo });
    record.count.classList.remove("is-popping");
    void record.count.offsetWidth; // restart the pop
    record.count.classList.add("is-popping");
    hold(record);
    if (g.animation === "float") floatIcons(g);
  }

  function hold(record) {
    clearTimeout(record.timer);
    record.timer = setTimeout(function () { leave(record); }, BANNER_MS);
  }

  function leave(record) {
    var node = record.node;
    delete banners[record.key];
    node.classList.add("is-leaving");
    var gone = false;
    function remove() {
      if (gone) return;
      gone = true;
      node.remove();
      next();
    }
    node.addEventListener("animationend", remove);
    setTimeout(remove, 600); // no animation when motion is reduced
  }

  function next() {
    while (waiting.length && shownCount() < room()) show(waiting.shift());
  }

  function clearStage() {
    Object.keys(banners).forEach(function (key) { clearTimeout(banners[key].timer); });
    banners = {};
    waiting = [];
    effects = [];
    effectPlaying = null;
    if (bannersBox) bannersBox.replaceChildren();
    if (effectsBox) effectsBox.replaceChildren();
  }

  // Float: a few icons rise from the banners, at once (cheap gifts, many at a time).
  function floatIcons(g) {
    if (!effectsBox || lessMotion.matches || document.hidden) return;
    if (effectsBox.querySelectorAll(".gift-float").length > 12) return;
    for (var i = 1; i <= 3; i++) {
      var icon = giftIcon(g.gift, "gift-float gift-float-" + i);
      icon.addEventListener("animationend", function () { this.remove(); });
      effectsBox.appendChild(icon);
    }
  }

  // Burst, rain and full screen take the whole video: one at a time, in turn; a
  // streak plays once (its banner counts the rest).
  function startEffect(g, key) {
    if (!effectsBox || lessMotion.matches) return;
    if (g.animation === "float") { floatIcons(g); return; }
    if (!EFFECT_MS[g.animation]) return;
    if (effectPlaying === key) return;
    for (var i = 0; i < effects.length; i++) if (effects[i].key === key) return;
    effects.push({ key: key, gift: g });
    if (effects.length > MAX_EFFECTS_WAITING) {
      effects.sort(function (a, b) { return b.gift.coins - a.gift.coins; });
      effects.length = MAX_EFFECTS_WAITING;
    }
    if (!effectPlaying) playNext();
  }

  function playNext() {
    var item = effects.shift();
    if (!item || document.hidden) { effectPlaying = null; effects = []; return; }
    effectPlaying = item.key;
    var g = item.gift;
    var box = el("div", "gift-effect gift-effect-" + g.animation);
    var i;
    if (g.animation === "burst") {
      for (i = 1; i <= 8; i++) box.appendChild(giftIcon(g.gift, "gift-particle gift-particle-" + i));
      box.appendChild(giftIcon(g.gift, "gift-burst-icon"));
    } else if (g.animation === "rain") {
      for (i = 1; i <= 12; i++) box.appendChild(giftIcon(g.gift, "gift-drop gift-drop-" + i));
    } else {
      box.appendChild(el("div", "gift-full-rays"));
      box.appendChild(giftIcon(g.gift, "gift-full-icon"));
      var caption = el("p", "gift-full-caption");
      caption.appendChild(el("strong", null, nameOf(g.sender)));
      caption.appendChild(document.createTextNode(" " + (isHostUser(g.receiver)
        ? fill(d.fmtSent, { gift: g.gift.name })
        : fill(d.fmtSentTo, { gift: g.gift.name, name: nameOf(g.receiver) }))));
      box.appendChild(caption);
    }
    effectsBox.appendChild(box);
    setTimeout(function () {
      box.remove();
      effectPlaying = null;
      playNext();
    }, EFFECT_MS[g.animation]);
  }

  // -- the goal bar ----------------------------------------------------------------------
  function drawGoal() {
    var on = goal && goal.target != null;
    if (goalBox) {
      goalBox.hidden = !on || ended;
      if (on) {
        var label = goal.label || d.labelGoal;
        var figures = fill(d.fmtGoal, { progress: numbers.format(goal.progress), target: numbers.format(goal.target) });
        var reached = goal.progress >= goal.target;
        goalBox.classList.toggle("is-reached", reached);
        // Reached: the news takes the label's place (the label stays in the bar's name).
        say(goalBox.querySelector("[data-gift-goal-label]"), reached ? d.msgGoalReached : label);
        say(goalBox.querySelector("[data-gift-goal-figures]"), figures);
        var bar = goalBox.querySelector("[data-gift-goal-bar]");
        bar.max = goal.target;
        bar.value = Math.min(goal.progress, goal.target);
        bar.setAttribute("aria-label", fill(d.fmtGoalAria, {
          label: label, progress: numbers.format(goal.progress), target: numbers.format(goal.target),
        }));
      }
    }
    if (goalForm) {
      var clear = goalForm.querySelector("[data-goal-clear]");
      clear.hidden = !on;
      var target = goalForm.elements.target_coins;
      var label2 = goalForm.elements.label;
      // Never overwrite what the host is typing.
      if (on && document.activeElement !== target && document.activeElement !== label2) {
        target.value = goal.target;
        label2.value = goal.label || "";
      }
      Array.prototype.forEach.call(goalForm.elements, function (field) { field.disabled = ended; });
    }
  }

  if (goalForm) {
    var goalError = goalForm.querySelector("[data-goal-error]");
    var goalStatus = goalForm.querySelector("[data-goal-status]");
    goalForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var target = goalForm.elements.target_coins;
      var value = Number(target.value);
      say(goalStatus, "");
      if (!target.value || !Number.isInteger(value)) { say(goalError, d.msgGoalNumber); target.focus(); return; }
      say(goalError, "");
      var save = goalForm.querySelector("[data-goal-save]");
      save.disabled = true;
      send("goal_set", { target_coins: value, label: goalForm.elements.label.value }, function (reply) {
        save.disabled = ended;
        if (!reply.ok) { say(goalError, reply.error); return; }
        goal = reply.goal;
        drawGoal();
        say(goalStatus, d.msgGoalSet);
      });
    });
    goalForm.querySelector("[data-goal-clear]").addEventListener("click", function (event) {
      var button = event.currentTarget;
      button.disabled = true;
      say(goalError, "");
      send("goal_clear", {}, function (reply) {
        button.disabled = false;
        if (!reply.ok) { say(goalError, reply.error); return; }
        goal = reply.goal;
        goalForm.elements.target_coins.value = "";
        goalForm.elements.label.value = "";
        drawGoal();
        say(goalStatus, d.msgGoalCleared);
        goalForm.elements.target_coins.focus();
      });
    });
  }

  // -- top gifters, the host's feed and takings -------------------------------------------
  function drawTop() {
    topLists.forEach(function (list) {
      list.replaceChildren();
      top.forEach(function (entry, index) {
        var item = el("li", "gift-top-item");
        if (entry.user && entry.user.id === you.user_id) item.classList.add("is-you");
        item.appendChild(el("span", "gift-top-rank", fill(d.fmtRank, { n: index + 1 })));
        item.appendChild(avatarNode(entry.user, "gift-top-avatar"));
        item.appendChild(el("span", "gift-top-name", nameOf(entry.user)));
        var coins = el("span", "gift-top-coins");
        var figure = el("span", null, numbers.format(entry.coins));
        figure.setAttribute("aria-hidden", "true");
        coins.appendChild(coinIcon());
        coins.appendChild(figure);
        coins.appendChild(el("span", "visually-hidden", plural("labelCoins", entry.coins)));
        item.appendChild(coins);
        list.appendChild(item);
      });
    });
    topEmpties.forEach(function (note) { note.hidden = top.length > 0; });
  }

  function addToFeed(g) {
    if (!feed) return;
    var item = el("li", "gift-feed-item");
    item.appendChild(giftIcon(g.gift, "gift-feed-icon"));
    var text = el("span", "gift-feed-text", isHostUser(g.receiver)
      ? fill(d.fmtFeed, { sender: nameOf(g.sender), gift: g.gift.name })
      : fill(d.fmtFeedTo, { sender: nameOf(g.sender), gift: g.gift.name, receiver: nameOf(g.receiver) }));
    item.appendChild(text);
    if (g.quantity > 1) item.appendChild(el("span", "gift-feed-count", fill(d.fmtCombo, { n: g.quantity })));
    var coins = el("span", "gift-feed-coins");
    coins.appendChild(coinIcon());
    coins.appendChild(el("span", null, numbers.format(g.coins)));
    item.appendChild(coins);
    feed.insertBefore(item, feed.firstChild);
    while (feed.children.length > 30) feed.removeChild(feed.lastChild);
    if (feedEmpty) feedEmpty.hidden = true;
  }

  function drawEarned(earned) {
    if (!earned) return;
    ["gifts", "coins", "diamonds"].forEach(function (name) {
      root.querySelectorAll('[data-gift-earned="' + name + '"]').forEach(function (node) {
        node.textContent = numbers.format(earned[name] || 0);
      });
    });
  }

  // -- listening ---------------------------------------------------------------------------
  // Redraw a list in the open picker only when it changed, keeping the focus on the
  // same choice (a refresh must not pull the keyboard out from under the person).
  function redraw(box, draw) {
    var focused = box && box.contains(document.activeElement) ? document.activeElement.value : null;
    draw();
    if (focused != null) {
      var again = box.querySelector('input[value="' + focused + '"]');
      if (again) again.focus();
    }
  }

  function applyState(state, coins) {
    var giftsChanged = state.gifts && JSON.stringify(state.gifts) !== JSON.stringify(catalogue);
    var receiversChanged = state.gift_receivers && JSON.stringify(state.gift_receivers) !== JSON.stringify(receivers);
    if (state.gifts) catalogue = state.gifts;
    if (state.gift_receivers) receivers = state.gift_receivers;
    if (state.top_gifters) top = state.top_gifters;
    if (state.goal) goal = state.goal;
    if (coins !== undefined) you.coins = coins;
    // The studio lists what came in before it (re)connected, newest first.
    if (feed && state.recent_gifts) {
      feed.replaceChildren();
      state.recent_gifts.slice().reverse().forEach(addToFeed);
      if (feedEmpty) feedEmpty.hidden = state.recent_gifts.length > 0;
    }
    if (picker && picker.open) {
      if (giftsChanged) redraw(grid, drawCatalogue);
      if (receiversChanged) redraw(receiverList, drawReceivers);
    }
    drawBalance();
    drawTop();
    drawGoal();
  }

  function applyYou(next) {
    if (!next) return;
    if ("user_id" in next) you.user_id = next.user_id;
    if ("coins" in next) you.coins = next.coins;
    drawBalance();
    drawEarned(next.gifts_earned);
  }

  function stop() {
    ended = true;
    closePicker();
    clearStage();
    drawOpeners();
    drawGoal();
  }

  function refresh() {
    send("gift_state", {}, function (reply) { if (reply.ok) applyState(reply, reply.coins); });
  }

  function listen() {
    socket.on("room_state", function (state) {
      applyYou(state.you);
      applyState(state);
    });
    socket.on("you", applyYou);
    socket.on("gift", onGift);
    socket.on("top_gifters", function (data) { top = data.gifters || []; drawTop(); });
    socket.on("goal", function (data) { goal = data; drawGoal(); });
    socket.on("balance", function (data) { you.coins = data.coins; drawBalance(); });
    socket.on("gifts_earned", drawEarned);
    // The stage changed: the picker's list of receivers with it.
    socket.on("feeds", function () { if (picker && picker.open) refresh(); });
    socket.on("live_ended", stop);
    socket.on("kicked", stop);
    socket.on("connect_error", function () { if (!socket.active) stop(); });
  }

  function start(liveId) {
    if (socket || !liveId) return;
    root.dataset.liveId = liveId;
    if (isStudio) root.hidden = false;
    socket = window.LiveLiteRoom.connect(liveId, d.invite);
    listen();
    // room_state came before this script listened: ask for the same again.
    if (socket.connected) refresh();
  }

  drawOpeners();
  if (isStudio) {
    // The studio learns its live's id when the host goes live (publisher.js writes it
    // on the studio's data-live-id); a live already running is known at once.
    var studio = document.querySelector("[data-studio]");
    var known = d.liveId || (studio && studio.dataset.liveId);
    if (known) start(known);
    else if (studio) {
      new MutationObserver(function (changes, observer) {
        if (studio.dataset.liveId) { observer.disconnect(); start(studio.dataset.liveId); }
      }).observe(studio, { attributes: true, attributeFilter: ["data-live-id"] });
    }
  } else {
    start(d.liveId);
  }
})();
